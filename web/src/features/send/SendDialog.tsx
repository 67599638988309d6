import { useState } from "react";
import { ApiError } from "../../api/client";
import { useSendCampaign } from "../../api/queries";
import type { CampaignDetail, SendRequest } from "../../api/models";
import { Modal } from "../../components/Modal";
import { ErrorState } from "../../components/states";
import { formatNumber, pluralize } from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { CustomerMultiPicker } from "../customers/CustomerMultiPicker";
import { SegmentFields } from "./SegmentFields";
import { EMPTY_SEGMENT, describeSegment, segmentFrom, type SegmentDraft } from "./segment";

/** The audience saved with the campaign, customers chosen here, or a segment. */
type Mode = "audience" | "pick" | "segment";

interface Props {
  campaign: CampaignDetail;
  onClose: () => void;
}

/**
 * Mounted once per "Send" click, so each opening gets its own Idempotency-Key:
 * a double click (or a retry after a network error) can't queue twice.
 */
export function SendDialog({ campaign, onClose }: Props) {
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  const hasAudience = campaign.audience_size > 0 || campaign.segment !== null;
  const [mode, setMode] = useState<Mode>(hasAudience ? "audience" : "pick");
  const [selected, setSelected] = useState<Set<number>>(() => new Set());
  const [segmentDraft, setSegmentDraft] = useState<SegmentDraft>(EMPTY_SEGMENT);
  const send = useSendCampaign(campaign.id);

  const segment = segmentFrom(segmentDraft);
  const ready =
    mode === "pick" ? selected.size > 0 : mode === "segment" ? segment !== null : true;
  const canSend = ready && !send.isPending;

  function onSend() {
    if (!canSend) return;
    // A segment is resolved by the API when it queues: the count is known only from its answer.
    const body: SendRequest =
      mode === "pick" ? { customer_ids: [...selected] } : mode === "segment" && segment ? { segment } : {};
    send.mutate(
      { body, idempotencyKey },
      {
        onError: (error) => {
          // A 4xx means nothing was queued; let a corrected request use a new key.
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
            setIdempotencyKey(newIdempotencyKey());
          }
        },
      },
    );
  }

  if (send.isSuccess) {
    return (
      <Modal
        title="Campaign is sending"
        onClose={onClose}
        footer={
          <button type="button" className="button button--primary" onClick={onClose}>
            Watch live progress
          </button>
        }
      >
        <p className="send-result" role="status">
          <strong>{formatNumber(send.data.messages_queued)}</strong>{" "}
          {send.data.messages_queued === 1 ? "message" : "messages"} queued for “{campaign.name}”.
        </p>
        <p className={send.data.skipped_opted_out > 0 ? undefined : "muted"}>
          {send.data.skipped_opted_out > 0
            ? `${pluralize(send.data.skipped_opted_out, "opted-out customer")} left out.`
            : "No opted-out customer was left out."}
        </p>
      </Modal>
    );
  }

  return (
    <Modal
      title={`Send “${campaign.name}”`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button--ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button button--primary" disabled={!canSend} onClick={onSend}>
            {send.isPending ? "Sending…" : sendLabel(mode, campaign, selected.size, segment)}
          </button>
        </>
      }
    >
      <fieldset className="choice">
        <legend>Recipients</legend>
        {hasAudience && (
          <label className="choice__option">
            <input
              type="radio"
              name="send-mode"
              checked={mode === "audience"}
              onChange={() => setMode("audience")}
            />
            {savedAudienceLabel(campaign)}
          </label>
        )}
        <label className="choice__option">
          <input type="radio" name="send-mode" checked={mode === "pick"} onChange={() => setMode("pick")} />
          Chosen customers
        </label>
        <label className="choice__option">
          <input
            type="radio"
            name="send-mode"
            checked={mode === "segment"}
            onChange={() => setMode("segment")}
          />
          A segment
        </label>
      </fieldset>
      {mode === "pick" && <CustomerMultiPicker idPrefix="send" selected={selected} onChange={setSelected} />}
      {mode === "segment" && <SegmentFields idPrefix="send" value={segmentDraft} onChange={setSegmentDraft} />}
      {send.isError && <SendError error={send.error} />}
    </Modal>
  );
}

function savedAudienceLabel(campaign: CampaignDetail): string {
  if (campaign.segment) return `Saved segment (${describeSegment(campaign.segment)})`;
  return `Saved audience (${pluralize(campaign.audience_size, "customer")})`;
}

function sendLabel(mode: Mode, campaign: CampaignDetail, selected: number, segment: ReturnType<typeof segmentFrom>) {
  if (mode === "pick") return `Send to ${pluralize(selected, "customer")}`;
  if (mode === "segment") return segment ? `Send to ${describeSegment(segment)}` : "Send to the segment";
  if (campaign.segment) return `Send to ${describeSegment(campaign.segment)}`;
  return `Send to ${pluralize(campaign.audience_size, "customer")}`;
}

function SendError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === "CAMPAIGN_NOT_SENDABLE") {
    return <ErrorState title="This campaign can't be sent" error={error} />;
  }
  if (error instanceof ApiError && error.details.length > 0) {
    return (
      <div className="state state--error" role="alert">
        <p className="state__title">{error.message}</p>
        <ul className="state__list">
          {error.details.map((d, i) => (
            <li key={i}>{d.message}</li>
          ))}
        </ul>
      </div>
    );
  }
  if (error instanceof ApiError && error.isUnreachable) {
    return (
      <div className="state state--error" role="alert">
        <p className="state__title">Couldn't reach the API</p>
        <p className="state__body">
          Sending again is safe: this dialog reuses its request key, so nothing is queued twice.
        </p>
      </div>
    );
  }
  return <ErrorState title="Sending failed" error={error} />;
}
