import { useState } from "react";
import { ApiError } from "../../api/client";
import { useCustomers, useTemplatePreview } from "../../api/queries";
import type { Channel, Customer, Preview } from "../../api/models";
import { ErrorState } from "../../components/states";
import { formatNumber } from "../../lib/format";
import { preventSubmitOnEnter } from "../../lib/preventSubmitOnEnter";
import { useDebouncedValue } from "../../lib/useDebouncedValue";
import { customerName } from "../customers/customerName";

export const PREVIEW_DEBOUNCE_MS = 300;

/** Live preview of the template for one customer, via POST /templates/preview. */
export function PreviewPanel({ template, channel }: { template: string; channel: Channel }) {
  const [search, setSearch] = useState("");
  const q = useDebouncedValue(search.trim(), PREVIEW_DEBOUNCE_MS);
  const customers = useCustomers({ q: q || undefined, page_size: 50 });
  const [chosenId, setChosenId] = useState<number | null>(null);
  const list = customers.data?.data ?? [];
  // Default to the first customer so a preview shows up without extra clicks;
  // if a search hides the chosen one, preview whoever the select shows.
  const customerId = list.some((c) => c.id === chosenId) ? chosenId : (list[0]?.id ?? null);

  const debouncedTemplate = useDebouncedValue(template, PREVIEW_DEBOUNCE_MS);
  const preview = useTemplatePreview(debouncedTemplate, customerId, channel);
  const typing = template !== debouncedTemplate;

  return (
    <section className="card preview" aria-labelledby="preview-title">
      <h2 id="preview-title">Live preview</h2>
      <div className="preview__customer">
        <label htmlFor="preview-search">Find a customer</label>
        <input
          id="preview-search"
          className="input"
          type="search"
          placeholder="Name or phone"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onKeyDown={preventSubmitOnEnter}
        />
        <label htmlFor="preview-customer">Preview as</label>
        <CustomerOptions
          customers={list}
          value={customerId}
          onChange={setChosenId}
          loading={customers.isPending}
        />
      </div>

      {customers.isError ? (
        <ErrorState error={customers.error} onRetry={() => void customers.refetch()} />
      ) : customerId === null ? (
        <p className="muted">{customers.isPending ? "Loading customers…" : "Add a customer to see a preview."}</p>
      ) : template.trim() === "" ? (
        <p className="muted">Start typing a template to see it rendered.</p>
      ) : preview.isError && !typing ? (
        <PreviewError error={preview.error} />
      ) : preview.data ? (
        <PreviewResult
          preview={preview.data}
          channel={channel}
          updating={typing || preview.isFetching}
        />
      ) : (
        <p className="muted" role="status">
          Rendering…
        </p>
      )}
    </section>
  );
}

function CustomerOptions({
  customers,
  value,
  onChange,
  loading,
}: {
  customers: Customer[];
  value: number | null;
  onChange: (id: number) => void;
  loading: boolean;
}) {
  return (
    <select
      id="preview-customer"
      className="input"
      value={value ?? ""}
      disabled={customers.length === 0}
      onChange={(e) => onChange(Number(e.target.value))}
    >
      {customers.length === 0 && <option value="">{loading ? "Loading…" : "No customers"}</option>}
      {customers.map((c) => (
        <option key={c.id} value={c.id}>
          {customerName(c)} · {c.phone}
        </option>
      ))}
    </select>
  );
}

function PreviewResult({
  preview,
  channel,
  updating,
}: {
  preview: Preview;
  channel: Channel;
  updating: boolean;
}) {
  return (
    <div className={`preview__result${updating ? " is-stale" : ""}`} aria-busy={updating || undefined}>
      <p className="preview__bubble" data-testid="preview-text">
        {preview.rendered_message}
      </p>
      <dl className="preview__meta" aria-live="polite">
        <div>
          <dt>Characters</dt>
          <dd>{formatNumber(preview.characters)}</dd>
        </div>
        <div>
          <dt>Encoding</dt>
          <dd>{preview.encoding}</dd>
        </div>
        <div>
          <dt>SMS segments</dt>
          <dd>{formatNumber(preview.segments)}</dd>
        </div>
      </dl>
      {preview.encoding === "UCS-2" && (
        <p className="preview__note">
          Contains characters outside GSM-7 (emoji, some accents), so each segment holds fewer characters.
        </p>
      )}
      {channel === "whatsapp" && <p className="preview__note">Segments only affect SMS cost; WhatsApp sends one message.</p>}
    </div>
  );
}

function PreviewError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.status === 422) {
    const extra = error.details.filter((d) => d.message !== error.message);
    return (
      <div className="state state--warning" role="status">
        <p className="state__title">Template can't be rendered</p>
        <p className="state__body">{error.message}</p>
        {extra.length > 0 && (
          <ul className="state__list">
            {extra.map((d, i) => (
              <li key={i}>{d.message}</li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return <ErrorState title="Preview unavailable" error={error} />;
}
