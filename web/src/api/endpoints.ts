import { request } from "./client";
import type {
  CampaignCreate,
  CampaignDetail,
  CampaignListParams,
  CampaignSummary,
  Customer,
  CustomerListParams,
  Message,
  MessageListParams,
  Page,
  Preview,
  Readiness,
  SendRequest,
  SendResponse,
  TemplatePreviewRequest,
} from "./types";

type Opts = { signal?: AbortSignal };

export const api = {
  listCampaigns: (params: CampaignListParams, { signal }: Opts = {}) =>
    request<Page<CampaignSummary>>("GET", "/campaigns", { query: params, signal }),

  getCampaign: (id: number, { signal }: Opts = {}) =>
    request<CampaignDetail>("GET", `/campaigns/${id}`, { signal }),

  createCampaign: (body: CampaignCreate) =>
    request<CampaignDetail>("POST", "/campaigns", { body }),

  sendCampaign: (id: number, body: SendRequest, idempotencyKey: string) =>
    request<SendResponse>("POST", `/campaigns/${id}/send`, {
      body,
      headers: { "Idempotency-Key": idempotencyKey },
    }),

  listMessages: (campaignId: number, params: MessageListParams, { signal }: Opts = {}) =>
    request<Page<Message>>("GET", `/campaigns/${campaignId}/messages`, { query: params, signal }),

  listCustomers: (params: CustomerListParams, { signal }: Opts = {}) =>
    request<Page<Customer>>("GET", "/customers", { query: params, signal }),

  previewTemplate: (body: TemplatePreviewRequest, { signal }: Opts = {}) =>
    request<Preview>("POST", "/templates/preview", { body, signal }),

  ready: ({ signal }: Opts = {}) => request<Readiness>("GET", "/ready", { signal }),
};
