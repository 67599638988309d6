import { useEffect, useEffectEvent, useState } from "react";
import { useSearchParams } from "react-router";
import type { CustomerListParams, PageRequest } from "../api/models";
import { useCustomers } from "../api/queries";
import { PaginationBar } from "../components/PaginationBar";
import { EmptyState, ErrorState, SkeletonRows } from "../components/states";
import { CustomerDrawer } from "../features/customers/CustomerDrawer";
import { CustomerForm } from "../features/customers/CustomerForm";
import { CustomerImport } from "../features/customers/CustomerImport";
import { CustomerTable } from "../features/customers/CustomerTable";
import { pluralize } from "../lib/format";
import { useDebouncedValue } from "../lib/useDebouncedValue";

export const CUSTOMER_PAGE_SIZE = 20;
export const SEARCH_DEBOUNCE_MS = 300;

type Panel = "create" | "import";

const PANEL_IDS: Record<Panel, { panel: string; toggle: string; first: string }> = {
  create: { panel: "customers-create-panel", toggle: "customers-create-toggle", first: "customer-phone" },
  import: { panel: "customers-import-panel", toggle: "customers-import-toggle", first: "customer-import-file" },
};

function intAtLeast(value: string | null, min: number): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= min ? n : undefined;
}

/** Who the list shows: everyone, or only those who have (or have not) opted out. */
type Consent = "" | "true" | "false";

function consentFrom(value: string | null): Consent {
  return value === "true" || value === "false" ? value : "";
}

/** The search, the consent filter and the page live in the URL, as on the campaign list: shareable, and Back works. */
function paramsFromUrl(search: URLSearchParams): CustomerListParams {
  const params: CustomerListParams = { page_size: CUSTOMER_PAGE_SIZE };
  const q = search.get("q")?.trim();
  if (q) params.q = q;
  const consent = consentFrom(search.get("opted_out"));
  if (consent) params.opted_out = consent === "true";
  const cursor = search.get("cursor");
  if (cursor) {
    params.cursor = cursor;
  } else {
    const page = intAtLeast(search.get("page"), 1);
    const snapshot = intAtLeast(search.get("snapshot_id"), 0);
    if (page !== undefined) params.page = page;
    if (snapshot !== undefined) params.snapshot_id = snapshot;
  }
  return params;
}

function toSearch(q: string, paging: PageRequest = {}, consent: Consent = ""): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries({ q, opted_out: consent, ...paging })) {
    if (value !== undefined && value !== null && value !== "") out.set(key, String(value));
  }
  return out;
}

export function CustomersPage() {
  const [searchParams, setSearchParams] = useSearchParams();
  const params = paramsFromUrl(searchParams);
  const urlQ = params.q ?? "";
  const consent = consentFrom(searchParams.get("opted_out"));
  const [openId, setOpenId] = useState<number | null>(null);
  const { data, error, isPending, isError, isFetching, isPlaceholderData, refetch } = useCustomers(params);
  const [panel, setPanel] = useState<Panel | null>(null);

  // The box holds what is typed; the URL (and so the query) follows once typing pauses.
  const [draft, setDraft] = useState(urlQ);
  const debouncedQ = useDebouncedValue(draft.trim(), SEARCH_DEBOUNCE_MS);
  const [seenUrlQ, setSeenUrlQ] = useState(urlQ);
  if (urlQ !== seenUrlQ) {
    setSeenUrlQ(urlQ);
    // Changed from outside the box (Back, the nav link): the box shows it.
    if (urlQ !== debouncedQ) setDraft(urlQ);
  }
  const pushSearch = useEffectEvent((q: string) => {
    // replace: Back should not step through every pause in the typing. A new search starts at page 1.
    if (q !== urlQ) setSearchParams(toSearch(q, {}, consent), { replace: true });
  });
  useEffect(() => pushSearch(debouncedQ), [debouncedQ]);
  const searching = draft.trim() !== urlQ;

  // Opening a panel starts in its first field; the panel is only there after this render.
  useEffect(() => {
    if (panel) document.getElementById(PANEL_IDS[panel].first)?.focus();
  }, [panel]);

  function togglePanel(next: Panel) {
    if (panel === next) closePanel();
    else setPanel(next);
  }

  function closePanel() {
    if (panel) document.getElementById(PANEL_IDS[panel].toggle)?.focus();
    setPanel(null);
  }

  function clearSearch() {
    setDraft("");
    setSearchParams(toSearch("", {}, consent));
  }

  function onNavigate(paging: PageRequest) {
    setSearchParams(toSearch(urlQ, paging, consent));
    window.scrollTo?.({ top: 0 });
  }

  /** New rows are the newest, so they show on a fresh page 1. */
  function showNewest() {
    if (params.cursor || params.page || params.snapshot_id !== undefined) setSearchParams(toSearch(urlQ, {}, consent));
  }

  return (
    <section aria-labelledby="customers-title">
      <div className="page-header">
        <div>
          <h1 id="customers-title">Customers</h1>
          {data && (
            <p className="page-header__meta">
              {pluralize(data.pagination.total_count, "customer")}
              {consent === "true" && " opted out"}
              {consent === "false" && " opted in"}
              {urlQ && ` matching “${urlQ}”`}
            </p>
          )}
        </div>
        <div className="page-header__actions">
          {(["create", "import"] as const).map((p) => (
            <button
              key={p}
              id={PANEL_IDS[p].toggle}
              type="button"
              className={panel === p ? "button button--primary" : "button"}
              aria-expanded={panel === p}
              aria-controls={panel === p ? PANEL_IDS[p].panel : undefined}
              onClick={() => togglePanel(p)}
            >
              {p === "create" ? "Add customer" : "Import CSV"}
            </button>
          ))}
        </div>
      </div>

      {panel && (
        <div className="card customers-panel" id={PANEL_IDS[panel].panel}>
          {panel === "create" ? (
            <CustomerForm onCreated={showNewest} onCancel={closePanel} />
          ) : (
            <CustomerImport
              onImported={(result) => {
                if (result.created > 0) showNewest();
              }}
              onCancel={closePanel}
            />
          )}
        </div>
      )}

      <div className="filters" role="search" aria-label="Customers">
        <div className="filters__item filters__item--search">
          <label htmlFor="customer-search">Search</label>
          <input
            id="customer-search"
            className="input"
            type="search"
            placeholder="Name, phone, location or product"
            maxLength={100}
            autoComplete="off"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
        </div>
        <div className="filters__item">
          <label htmlFor="customer-consent">Consent</label>
          <select
            id="customer-consent"
            className="input"
            value={consent}
            onChange={(e) => setSearchParams(toSearch(urlQ, {}, consentFrom(e.target.value)))}
          >
            <option value="">All customers</option>
            <option value="false">Opted in</option>
            <option value="true">Opted out</option>
          </select>
        </div>
        {searching && (
          <span className="filters__status" aria-hidden="true">
            Searching…
          </span>
        )}
      </div>

      {isPending ? (
        <SkeletonRows label="Loading customers" />
      ) : isError ? (
        <ErrorState error={error} onRetry={() => void refetch()}>
          {(params.cursor || params.page) && (
            <button type="button" className="button button--ghost" onClick={() => setSearchParams(toSearch(urlQ, {}, consent))}>
              Back to the first page
            </button>
          )}
        </ErrorState>
      ) : data.data.length === 0 ? (
        consent && !urlQ ? (
          <EmptyState title={consent === "true" ? "No one has opted out" : "No opted-in customers"}>
            <button type="button" className="button" onClick={() => setSearchParams(toSearch(""))}>
              Show all customers
            </button>
          </EmptyState>
        ) : urlQ ? (
          <EmptyState title={`No customers match “${urlQ}”`}>
            <p>The search looks at names, phone numbers, locations and preferred products.</p>
            <button type="button" className="button" onClick={clearSearch}>
              Clear search
            </button>
          </EmptyState>
        ) : (
          <EmptyState title="No customers yet">
            <p>Add customers one at a time, or import many at once from a CSV file.</p>
            <div className="state__actions">
              <button type="button" className="button button--primary" onClick={() => setPanel("create")}>
                Add a customer
              </button>
              <button type="button" className="button" onClick={() => setPanel("import")}>
                Import a CSV file
              </button>
            </div>
          </EmptyState>
        )
      ) : (
        <div className={isPlaceholderData || searching ? "is-stale" : undefined}>
          <CustomerTable customers={data.data} busy={isFetching} onOpen={setOpenId} />
          <PaginationBar
            label="Customer pages"
            pagination={data.pagination}
            onNavigate={onNavigate}
            busy={isPlaceholderData}
          />
        </div>
      )}
      {openId !== null && <CustomerDrawer customerId={openId} onClose={() => setOpenId(null)} />}
    </section>
  );
}
