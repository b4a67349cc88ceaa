"""All of the platform's domain SQL, one module per aggregate. Every function takes the caller's
connection, so a caller can put several in one transaction.

`from reelgate.platform import repo` and `repo.get_video(...)`: the names of every module are here.
"""

from reelgate.platform.repo.captions import delete_caption, has_caption, upsert_caption
from reelgate.platform.repo.outputs import insert_rendition, rendition_file, reuse_output, upsert_output
from reelgate.platform.repo.queue import move_waiting_jobs_sync, queue_depths, queue_for
from reelgate.platform.repo.tenants import (
    KEY_PREFIX,
    TenantRow,
    TenantSummary,
    create_tenant_sync,
    delete_tenant_sync,
    hash_key,
    list_tenants_sync,
    new_api_key,
    sign_in_key,
    tenant_for_key,
    tenant_for_key_id,
)
from reelgate.platform.repo.videos import (
    decode_cursor,
    delete_video,
    encode_cursor,
    get_video,
    insert_video,
    list_videos,
    mark_failed,
    mark_ready,
    orphaned_videos,
    reassign_unfinished_sync,
    rename_video,
    set_progress,
    start_processing,
    to_video,
    touch_video,
    usage_rows,
    video_states,
)

__all__ = [
    "KEY_PREFIX",
    "TenantRow",
    "TenantSummary",
    "create_tenant_sync",
    "decode_cursor",
    "delete_caption",
    "delete_tenant_sync",
    "delete_video",
    "encode_cursor",
    "get_video",
    "has_caption",
    "hash_key",
    "insert_rendition",
    "insert_video",
    "list_tenants_sync",
    "list_videos",
    "mark_failed",
    "mark_ready",
    "move_waiting_jobs_sync",
    "new_api_key",
    "orphaned_videos",
    "queue_depths",
    "queue_for",
    "reassign_unfinished_sync",
    "rename_video",
    "rendition_file",
    "reuse_output",
    "set_progress",
    "sign_in_key",
    "start_processing",
    "tenant_for_key",
    "tenant_for_key_id",
    "to_video",
    "touch_video",
    "upsert_caption",
    "upsert_output",
    "usage_rows",
    "video_states",
]
