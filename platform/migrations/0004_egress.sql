-- Bytes served per video (renditions, thumbnails, HLS segments), for the egress part of the cost
-- estimate. Expand only: the color before this release never reads or writes the column.
ALTER TABLE videos ADD COLUMN egress_bytes bigint NOT NULL DEFAULT 0;
