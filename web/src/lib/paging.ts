import type { PageRequest, Pagination } from "../api/models";

/** Next page: follow the server's cursor (carries page + snapshot). */
export function nextPage(p: Pagination): PageRequest | null {
  return p.next_cursor ? { cursor: p.next_cursor } : null;
}

/** Previous page: page number pinned to the same snapshot, so rows don't shift. */
export function prevPage(p: Pagination): PageRequest | null {
  if (p.page <= 1) return null;
  return { page: p.page - 1, snapshot_id: p.snapshot_id };
}
