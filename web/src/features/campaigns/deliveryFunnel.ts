import type { CampaignStats } from "../../api/models";
import { percentOf } from "../../lib/format";

export interface FunnelStep {
  key: "delivered" | "undelivered" | "awaiting";
  label: string;
  count: number;
  /** Of the messages sent, rounded; null while none is sent. */
  percent: number | null;
}

export interface DeliveryFunnel {
  sent: number;
  steps: FunnelStep[];
}

/**
 * What became of the messages sent, from the providers' receipts: delivered (read counts
 * as delivered), undelivered, or no receipt yet. "Awaiting receipt" is what is left of
 * sent; it is never negative, even should the receipt counts run ahead of `sent`.
 */
export function deliveryFunnel(stats: Pick<CampaignStats, "sent" | "delivered" | "undelivered">): DeliveryFunnel {
  const { sent, delivered, undelivered } = stats;
  const awaiting = Math.max(0, sent - delivered - undelivered);
  const step = (key: FunnelStep["key"], label: string, count: number): FunnelStep => ({
    key,
    label,
    count,
    percent: percentOf(count, sent),
  });
  return {
    sent,
    steps: [
      step("delivered", "Delivered", delivered),
      step("undelivered", "Undelivered", undelivered),
      step("awaiting", "Awaiting receipt", awaiting),
    ],
  };
}
