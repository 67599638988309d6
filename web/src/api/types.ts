// Domain types. Response shapes come from the generated OpenAPI schema
// (components.schemas names agreed with the backend); request bodies and the
// pagination envelope are written by hand so that the backend's choice of
// names for those helper schemas can't break the build.
import type { components } from "./schema";

type Schemas = components["schemas"];

/**
 * The backend's model name if the schema has it, else the contract's name
 * (the backend exports `MessageRead`, `CustomerRead`, `PreviewResponse`; the
 * contract says `Message`, `Customer`, `Preview`). If neither exists the type
 * is `never` and `npm run typecheck` fails loudly.
 */
type Schema<Name extends string, Alias extends string> = Name extends keyof Schemas
  ? Schemas[Name]
  : Alias extends keyof Schemas
    ? Schemas[Alias]
    : never;

export type CampaignSummary = Schemas["CampaignSummary"];
export type CampaignDetail = Schemas["CampaignDetail"];
export type Message = Schema<"MessageRead", "Message">;
export type Customer = Schema<"CustomerRead", "Customer">;
export type Preview = Schema<"PreviewResponse", "Preview">;

export type Channel = CampaignSummary["channel"];
export type CampaignStatus = CampaignSummary["status"];
export type MessageStatus = Message["status"];
export type CampaignStats = CampaignDetail["stats"];

export interface Pagination {
  page: number;
  page_size: number;
  total_count: number;
  total_pages: number;
  snapshot_id: number | null;
  next_cursor: string | null;
}

export interface Page<T> {
  data: T[];
  pagination: Pagination;
}

/** Which page to fetch: either a cursor, or a page number (+ snapshot). */
export interface PageRequest {
  cursor?: string;
  page?: number;
  snapshot_id?: number;
}

export interface CampaignListParams extends PageRequest {
  page_size?: number;
  channel?: Channel;
  status?: CampaignStatus;
}

export interface MessageListParams extends PageRequest {
  page_size?: number;
  status?: MessageStatus;
}

export interface CustomerListParams extends PageRequest {
  page_size?: number;
  q?: string;
}

export interface CampaignCreate {
  name: string;
  channel: Channel;
  base_template: string;
  scheduled_at?: string | null;
  customer_ids?: number[];
}

export interface SendRequest {
  customer_ids?: number[];
}

export interface SendResponse {
  campaign_id: number;
  messages_queued: number;
  status: CampaignStatus;
}

export interface TemplatePreviewRequest {
  template: string;
  customer_id: number;
}

export interface Readiness {
  status: "ok" | "unavailable";
  checks?: Record<string, string>;
}

export const CHANNELS: readonly Channel[] = ["sms", "whatsapp"];
export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = [
  "draft",
  "scheduled",
  "sending",
  "sent",
  "failed",
];
export const MESSAGE_STATUSES: readonly MessageStatus[] = ["pending", "sending", "sent", "failed"];
