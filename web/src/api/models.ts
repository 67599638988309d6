// Names for the API's models, all taken from the generated schema (schema.d.ts,
// made by `make openapi` from the API's own OpenAPI document). Nothing here is
// typed by hand, so a change on the API side shows up in `npm run typecheck`.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

export type CampaignSummary = Schemas["CampaignSummary"];
export type CampaignDetail = Schemas["CampaignDetail"];
export type CampaignStats = Schemas["CampaignStats"];
export type CampaignCreate = Schemas["CampaignCreate"];
export type Message = Schemas["MessageRead"];
export type Customer = Schemas["CustomerRead"];
/** A customer with their consent history (GET /customers/{id}, opt-out, opt-in). */
export type CustomerDetail = Schemas["CustomerDetail"];
export type ConsentEvent = Schemas["ConsentEventRead"];
export type ConsentSource = Schemas["ConsentSource"];
/** Quiet hours on each recipient's clock: "HH:MM" to "HH:MM" (a start after the end wraps). */
export type SendWindow = Schemas["SendWindowSpec"];
export type WhatsAppTemplate = Schemas["WhatsAppTemplate"];
export type Preview = Schemas["PreviewResponse"];
export type TemplatePreviewRequest = Schemas["TemplatePreviewRequest"];
export type SendRequest = Schemas["SendRequest"];
export type SendResponse = Schemas["SendResponse"];
export type Readiness = Schemas["Readiness"];
export type Pagination = Schemas["Pagination"];

/** A customer field a template can reference, from GET /templates/placeholders. */
export type Placeholder = Schemas["Placeholder"];

export type Channel = Schemas["Channel"];
export type CampaignStatus = Schemas["CampaignStatus"];
export type MessageStatus = Schemas["MessageStatus"];
/** What the provider's delivery receipts said about a message (null: none yet). */
export type DeliveryStatus = Schemas["DeliveryStatus"];
/** Why an attempt or message failed (`error_code`). */
export type FailureCode = Schemas["FailureCode"];

/** The `error` of the envelope every error answer carries. */
export type ErrorCode = Schemas["ErrorCode"];
export type ErrorDetail = Schemas["ErrorDetail"];

/** Every list endpoint answers `{data, pagination}`. */
export interface Page<T> {
  data: T[];
  pagination: Pagination;
}

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? NonNullable<Q>
  : never;

export type CampaignListParams = Query<"/campaigns">;
export type MessageListParams = Query<"/campaigns/{campaign_id}/messages">;
export type CustomerListParams = Query<"/customers">;

/** Which page to fetch: a cursor, or a page number (+ snapshot). */
export type PageRequest = Pick<CampaignListParams, "cursor" | "page" | "snapshot_id">;

/**
 * `true` only when `List` names every member of `T`; used below so that a value
 * added to an enum in the API breaks the build until the list has it too.
 */
type Covers<T, List extends readonly T[]> = [Exclude<T, List[number]>] extends [never] ? true : false;

export const CHANNELS = ["sms", "whatsapp"] as const satisfies readonly Channel[];
export const CAMPAIGN_STATUSES = [
  "draft",
  "scheduled",
  "sending",
  "sent",
  "failed",
  "paused",
  "cancelled",
] as const satisfies readonly CampaignStatus[];
export const MESSAGE_STATUSES = [
  "pending",
  "sending",
  "sent",
  "failed",
  "cancelled",
] as const satisfies readonly MessageStatus[];
export const DELIVERY_STATUSES = ["delivered", "read", "undelivered"] as const satisfies readonly DeliveryStatus[];

export const LISTS_COVER_THE_SCHEMA: [
  Covers<Channel, typeof CHANNELS>,
  Covers<CampaignStatus, typeof CAMPAIGN_STATUSES>,
  Covers<MessageStatus, typeof MESSAGE_STATUSES>,
  Covers<DeliveryStatus, typeof DELIVERY_STATUSES>,
] = [true, true, true, true];
