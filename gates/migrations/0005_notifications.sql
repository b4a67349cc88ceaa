-- Notifications: one row per (event, notifier), claimed before anything is sent, so an event reaches each
-- notifier once however many runners see the transition. The event id is uuid5 of (release, transition).
CREATE TABLE IF NOT EXISTS reelgate_gates.notifications (
    event_id uuid NOT NULL,
    target text NOT NULL,
    release_id text NOT NULL,
    trigger text NOT NULL,
    state text NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (event_id, target)
);
