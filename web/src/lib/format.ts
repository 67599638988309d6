import type { CampaignStatus, Channel, DeliveryStatus, FailureCode, MessageStatus, SendWindow } from "../api/models";

const dateTime = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

const dateTimeSeconds = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});

/** With seconds: attempts of one message are often seconds apart. */
export function formatDateTimeSeconds(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTimeSeconds.format(date);
}

const number = new Intl.NumberFormat();
export function formatNumber(n: number): string {
  return number.format(n);
}

export const CHANNEL_LABELS: Record<Channel, string> = {
  sms: "SMS",
  whatsapp: "WhatsApp",
};

export const STATUS_LABELS: Record<CampaignStatus | MessageStatus, string> = {
  draft: "Draft",
  scheduled: "Scheduled",
  sending: "Sending",
  sent: "Sent",
  failed: "Failed",
  paused: "Paused",
  cancelled: "Cancelled",
  pending: "Pending",
};

export const DELIVERY_STATUS_LABELS: Record<DeliveryStatus, string> = {
  delivered: "Delivered",
  read: "Read",
  undelivered: "Undelivered",
};

/** A whole-number percentage of `part` in `whole`; null when `whole` is 0 (nothing to divide). */
export function percentOf(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 100) : null;
}

export function pluralize(count: number, one: string, many = `${one}s`): string {
  return `${formatNumber(count)} ${count === 1 ? one : many}`;
}

/** Short labels for a message's `error_code`, the code itself kept beside them. */
export const FAILURE_CODE_LABELS: Record<FailureCode, string> = {
  PROVIDER_ERROR: "Provider error",
  PROVIDER_TIMEOUT: "Provider timed out",
  PERSONALIZATION_FAILED: "Personalization failed",
  TEMPLATE_ERROR: "Template error",
  CUSTOMER_NOT_FOUND: "Customer not found",
  CAMPAIGN_NOT_FOUND: "Campaign not found",
  LEASE_EXPIRED: "Worker lease expired",
  PROVIDER_REJECTED: "Rejected by the provider",
  PROVIDER_THROTTLED: "Throttled by the provider",
  PROVIDER_ACCOUNT: "Provider account problem",
  OPTED_OUT: "Customer opted out",
  EXPIRED: "Campaign expired before sending",
};

/** A code the API sends that this build doesn't know still shows, as itself. */
export function failureCodeLabel(code: string): string {
  return (FAILURE_CODE_LABELS as Record<string, string>)[code] ?? code;
}

const monthShort = new Intl.DateTimeFormat("en-GB", { month: "short" });
const pad2 = (n: number) => String(n).padStart(2, "0");

/** "2 Dec 21:00" in the browser's local time (with the year when it is not this year's). */
export function formatShortDateTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const year = date.getFullYear() === now.getFullYear() ? "" : ` ${date.getFullYear()}`;
  return `${date.getDate()} ${monthShort.format(date)}${year} ${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** A campaign's send window in its recipients' terms; null (no window of its own) is any time. */
export function describeSendWindow(window: SendWindow | null): string {
  if (!window) return "Any time";
  const wraps = window.start > window.end ? " (overnight)" : "";
  return `${window.start}–${window.end} each customer's local time${wraps}`;
}
