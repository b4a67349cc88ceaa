"""The HTTP hall: the API's controllers (`/v1`, `/health`, `/play`), their schemas, authentication, uploads
and file downloads. The pages are `reelgate.platform.web`."""
