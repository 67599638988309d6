// The campaign detail page as its tests render it, with the API it needs.
import { HttpResponse, http, type RequestHandler } from "msw";
import type { CampaignDetail, Message } from "../api/models";
import { CampaignDetailPage } from "../pages/CampaignDetailPage";
import { mockApi, mockEventStream } from "./api";
import { campaignDetail, page } from "./factories";
import { renderRoute } from "./render";

export const renderDetail = (id = 1) =>
  renderRoute(<CampaignDetailPage />, { route: `/campaigns/${id}`, path: "/campaigns/:id" });

export function message(overrides: Partial<Message> = {}): Message {
  return {
    id: 1,
    campaign_id: 1,
    customer_id: 7,
    status: "failed",
    rendered_content: "Hi Ada",
    retry_count: 3,
    last_error: "Carrier timeout",
    error_code: null,
    provider: null,
    provider_message_id: null,
    delivery_status: null,
    delivered_at: null,
    created_at: "2025-03-01T10:00:00Z",
    updated_at: "2025-03-01T10:01:00Z",
    ...overrides,
  };
}

/**
 * GET /campaigns/1 answers `detail` (a function, to change between calls), the messages
 * list `messages`, and /campaigns/1/events is a stream the test drives (`stream`).
 */
export function mockDetailApi(
  detail: Partial<CampaignDetail> | (() => CampaignDetail),
  { messages = [], handlers = [] }: { messages?: Message[]; handlers?: RequestHandler[] } = {},
) {
  const current = typeof detail === "function" ? detail : () => campaignDetail(detail);
  const stream = mockEventStream("/campaigns/1/events");
  const api = mockApi(
    ...handlers,
    http.get("/campaigns/1", () => HttpResponse.json(current())),
    http.get("/campaigns/1/messages", () => HttpResponse.json(page(messages))),
  );
  return { ...api, stream };
}
