-- 1. Bytes served per video (renditions, thumbnails, HLS segments), for the egress part of the cost
-- estimate. Expand only: the color before this release never reads or writes the column.
ALTER TABLE videos ADD COLUMN egress_bytes bigint NOT NULL DEFAULT 0;

-- 2. The bytes of an output's HLS variants and master playlist (`hls/` beside the MP4s); NULL for an
-- output made without HLS.
ALTER TABLE outputs ADD COLUMN hls_bytes bigint;
