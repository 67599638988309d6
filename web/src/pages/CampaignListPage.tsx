import { Link, useSearchParams } from "react-router";
import { useCampaigns } from "../api/queries";
import type { CampaignListParams, PageRequest } from "../api/models";
import { CAMPAIGN_STATUSES, CHANNELS } from "../api/models";
import { PaginationBar } from "../components/PaginationBar";
import { EmptyState, ErrorState, SkeletonRows } from "../components/states";
import { CampaignFilters, type CampaignFilterValues } from "../features/campaigns/CampaignFilters";
import { CampaignTable } from "../features/campaigns/CampaignTable";
import { pluralize } from "../lib/format";

export const CAMPAIGN_PAGE_SIZE = 20;

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a === value);
}

function intAtLeast(value: string | null, min: number): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= min ? n : undefined;
}

/** Filters and the current page live in the URL so views are shareable and Back works. */
function paramsFromUrl(search: URLSearchParams): CampaignListParams {
  const params: CampaignListParams = { page_size: CAMPAIGN_PAGE_SIZE };
  const channel = oneOf(search.get("channel"), CHANNELS);
  const status = oneOf(search.get("status"), CAMPAIGN_STATUSES);
  if (channel) params.channel = channel;
  if (status) params.status = status;
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

function toSearch(filters: CampaignFilterValues, paging: PageRequest = {}): URLSearchParams {
  const out = new URLSearchParams();
  const entries = { ...filters, ...paging };
  for (const [key, value] of Object.entries(entries)) {
    if (value !== undefined && value !== null && value !== "") out.set(key, String(value));
  }
  return out;
}

export function CampaignListPage() {
  const [searchParams, setSearchParams] = useSearchParams();
  const params = paramsFromUrl(searchParams);
  const filters: CampaignFilterValues = { channel: params.channel ?? undefined, status: params.status ?? undefined };
  const { data, error, isPending, isError, isFetching, isPlaceholderData, refetch } = useCampaigns(params);
  const filtered = Boolean(filters.channel || filters.status);

  function onFiltersChange(next: CampaignFilterValues) {
    setSearchParams(toSearch(next)); // back to page 1 of a fresh snapshot
  }

  function onNavigate(paging: PageRequest) {
    setSearchParams(toSearch(filters, paging));
    window.scrollTo?.({ top: 0 });
  }

  return (
    <section aria-labelledby="campaigns-title">
      <div className="page-header">
        <div>
          <h1 id="campaigns-title">Campaigns</h1>
          {data && <p className="page-header__meta">{pluralize(data.pagination.total_count, "campaign")}</p>}
        </div>
        <Link to="/campaigns/new" className="button button--primary">
          New campaign
        </Link>
      </div>

      <CampaignFilters value={filters} onChange={onFiltersChange} />

      {isPending ? (
        <SkeletonRows label="Loading campaigns" />
      ) : isError ? (
        <ErrorState error={error} onRetry={() => void refetch()}>
          {(params.cursor || params.page) && (
            <button type="button" className="button button--ghost" onClick={() => onFiltersChange(filters)}>
              Back to the first page
            </button>
          )}
        </ErrorState>
      ) : data.data.length === 0 ? (
        filtered ? (
          <EmptyState title="No campaigns match these filters">
            <button type="button" className="button" onClick={() => onFiltersChange({})}>
              Clear filters
            </button>
          </EmptyState>
        ) : (
          <EmptyState title="No campaigns yet">
            <p>Create your first SMS or WhatsApp campaign to get started.</p>
            <Link to="/campaigns/new" className="button button--primary">
              Create a campaign
            </Link>
          </EmptyState>
        )
      ) : (
        <div className={isPlaceholderData ? "is-stale" : undefined}>
          <CampaignTable campaigns={data.data} busy={isFetching} />
          <PaginationBar
            label="Campaign pages"
            pagination={data.pagination}
            onNavigate={onNavigate}
            busy={isPlaceholderData}
          />
        </div>
      )}
    </section>
  );
}
