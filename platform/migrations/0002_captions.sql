-- Caption tracks, one per video and language. Expand only: the color before this
-- release never reads the table, and a video's delete cascades to its tracks.

CREATE TABLE video_captions (
    video_id uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    lang text NOT NULL,
    label text NOT NULL,
    cues integer NOT NULL CHECK (cues > 0),
    bytes integer NOT NULL CHECK (bytes > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, lang)
);
