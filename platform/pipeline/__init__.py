"""The pipeline hall: probing, the ladder, one ffmpeg pass, progress, the job queue's tasks, the media store,
captions' parsing and the cost model."""
