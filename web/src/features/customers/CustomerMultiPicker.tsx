import { useEffect, useRef, useState } from "react";
import { useCustomers } from "../../api/queries";
import type { PageRequest } from "../../api/models";
import { PaginationBar } from "../../components/PaginationBar";
import { EmptyState, ErrorState, SkeletonRows } from "../../components/states";
import { pluralize } from "../../lib/format";
import { preventSubmitOnEnter } from "../../lib/preventSubmitOnEnter";
import { useDebouncedValue } from "../../lib/useDebouncedValue";
import { customerName } from "./customerName";

interface Props {
  idPrefix: string;
  selected: ReadonlySet<number>;
  onChange: (next: Set<number>) => void;
  pageSize?: number;
}

/** Search customers (GET /customers?q=), tick many, or tick a whole page. */
export function CustomerMultiPicker({ idPrefix, selected, onChange, pageSize = 10 }: Props) {
  const [q, setQ] = useState("");
  const debouncedQ = useDebouncedValue(q.trim(), 300);
  const [paging, setPaging] = useState<{ q: string; request: PageRequest }>({ q: "", request: {} });
  // A new search starts from page 1.
  const request = paging.q === debouncedQ ? paging.request : {};
  const { data, error, isPending, isError, isPlaceholderData, refetch } = useCustomers({
    q: debouncedQ || undefined,
    page_size: pageSize,
    ...request,
  });

  const pageIds = data?.data.map((c) => c.id) ?? [];
  const selectedOnPage = pageIds.filter((id) => selected.has(id)).length;
  const allOnPage = pageIds.length > 0 && selectedOnPage === pageIds.length;
  const someOnPage = selectedOnPage > 0 && !allOnPage;

  const selectAllRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (selectAllRef.current) selectAllRef.current.indeterminate = someOnPage;
  }, [someOnPage]);

  function toggle(id: number) {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    onChange(next);
  }

  function togglePage() {
    const next = new Set(selected);
    for (const id of pageIds) {
      if (allOnPage) next.delete(id);
      else next.add(id);
    }
    onChange(next);
  }

  return (
    <div className="picker">
      <div className="picker__toolbar">
        <label className="visually-hidden" htmlFor={`${idPrefix}-search`}>
          Search customers
        </label>
        <input
          id={`${idPrefix}-search`}
          className="input"
          type="search"
          placeholder="Search by name, phone, location…"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={preventSubmitOnEnter}
        />
        <span className="picker__count" aria-live="polite">
          {pluralize(selected.size, "customer")} selected
        </span>
        {selected.size > 0 && (
          <button type="button" className="button button--ghost" onClick={() => onChange(new Set())}>
            Clear
          </button>
        )}
      </div>

      {isPending ? (
        <SkeletonRows rows={3} label="Loading customers" />
      ) : isError ? (
        <ErrorState error={error} onRetry={() => void refetch()} />
      ) : data.data.length === 0 ? (
        <EmptyState title={debouncedQ ? `No customers match “${debouncedQ}”` : "No customers yet"} />
      ) : (
        <div className={isPlaceholderData ? "is-stale" : undefined}>
          <label className="picker__row picker__row--all">
            <input type="checkbox" ref={selectAllRef} checked={allOnPage} onChange={togglePage} />
            <span>Select all on this page</span>
          </label>
          <ul className="picker__list" aria-label="Customers">
            {data.data.map((c) => (
              <li key={c.id}>
                <label className="picker__row">
                  <input type="checkbox" checked={selected.has(c.id)} onChange={() => toggle(c.id)} />
                  <span className="picker__name">{customerName(c)}</span>
                  <span className="picker__meta">
                    {c.phone}
                    {c.location ? ` · ${c.location}` : ""}
                  </span>
                </label>
              </li>
            ))}
          </ul>
          <PaginationBar
            label="Customer pages"
            pagination={data.pagination}
            onNavigate={(r) => setPaging({ q: debouncedQ, request: r })}
            busy={isPlaceholderData}
          />
        </div>
      )}
    </div>
  );
}
