import type { CampaignDetail, CampaignSummary, Customer, Page, Pagination, Preview } from "../api/models";
import type { CustomerImportResult } from "../api/queries";

export function campaignSummary(overrides: Partial<CampaignSummary> = {}): CampaignSummary {
  return {
    id: 1,
    name: "Spring sale",
    channel: "sms",
    status: "draft",
    scheduled_at: null,
    created_at: "2025-03-01T10:00:00Z",
    ...overrides,
  };
}

export function campaignDetail(overrides: Partial<CampaignDetail> = {}): CampaignDetail {
  return {
    id: 1,
    name: "Spring sale",
    channel: "sms",
    status: "draft",
    base_template: "Hi {first_name}",
    scheduled_at: null,
    created_at: "2025-03-01T10:00:00Z",
    updated_at: "2025-03-01T10:00:00Z",
    audience_size: 0,
    segment: null,
    pause_reason: null,
    whatsapp_template: null,
    send_window: null,
    expires_at: null,
    waiting_for_window: 0,
    next_window_opens_at: null,
    stats: { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, cancelled: 0, delivered: 0, undelivered: 0 },
    ...overrides,
  };
}

export function customer(overrides: Partial<Customer> = {}): Customer {
  return {
    id: 1,
    phone: "+15550001",
    first_name: "Ada",
    last_name: "Lovelace",
    location: "London",
    preferred_product: "engines",
    opted_out_at: null,
    timezone: null,
    created_at: "2025-01-01T00:00:00Z",
    ...overrides,
  };
}

export function preview(overrides: Partial<Preview> = {}): Preview {
  return {
    rendered_message: "Hi Ada",
    used_template: "Hi {first_name}",
    customer: customer(),
    characters: 6,
    encoding: "GSM-7",
    segments: 1,
    ...overrides,
  };
}

export function page<T>(data: T[], overrides: Partial<Pagination> = {}): Page<T> {
  return {
    data,
    pagination: {
      page: 1,
      page_size: 20,
      total_count: data.length,
      total_pages: 1,
      snapshot_id: 100,
      next_cursor: null,
      ...overrides,
    },
  };
}

export function customerImportResult(overrides: Partial<CustomerImportResult> = {}): CustomerImportResult {
  return { created: 0, skipped: 0, errors: [], errors_not_shown: 0, ...overrides };
}
