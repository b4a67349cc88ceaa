"""The services hall: what a request does to a video or a caption track, shared by the API's controllers
(`reelgate.platform.http`) and the pages (`reelgate.platform.web`), so neither holds the logic."""
