import type { PageRequest, Pagination } from "../api/models";
import { formatNumber } from "../lib/format";
import { nextPage, prevPage } from "../lib/paging";

interface Props {
  pagination: Pagination;
  onNavigate: (request: PageRequest) => void;
  busy?: boolean;
  label: string;
}

export function PaginationBar({ pagination, onNavigate, busy = false, label }: Props) {
  const prev = prevPage(pagination);
  const next = nextPage(pagination);
  const totalPages = Math.max(pagination.total_pages, 1);
  return (
    <nav className="pagination" aria-label={label}>
      <button
        type="button"
        className="button button--ghost"
        disabled={!prev || busy}
        onClick={() => prev && onNavigate(prev)}
      >
        ← Prev
      </button>
      <span className="pagination__info" aria-live="polite">
        Page {formatNumber(pagination.page)} of {formatNumber(totalPages)}
      </span>
      <button
        type="button"
        className="button button--ghost"
        disabled={!next || busy}
        onClick={() => next && onNavigate(next)}
      >
        Next →
      </button>
    </nav>
  );
}
