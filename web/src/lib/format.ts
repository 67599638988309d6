import type { CampaignStatus, Channel, DeliveryStatus, MessageStatus } from "../api/models";

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
