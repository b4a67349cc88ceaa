-- An output's bytes on disk (renditions, thumbnail, HLS), stored once when it is made, so the usage
-- query reads one column per video instead of adding up its renditions under row-level security
-- (7.4 ms p95 for a tenant of 100 videos; docs/performance.md). Expand only: an output the color
-- before this release makes leaves it NULL, and the usage query adds the parts up for those.
ALTER TABLE outputs ADD COLUMN total_bytes bigint;

UPDATE outputs o SET total_bytes =
    COALESCE((SELECT sum(r.bytes) FROM renditions r WHERE r.output_id = o.id), 0)
    + o.thumbnail_bytes + COALESCE(o.hls_bytes, 0);
