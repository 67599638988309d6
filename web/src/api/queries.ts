// TanStack Query hooks: one per screen need, keys kept in one place. Every call
// goes through the typed client, so paths and parameters are checked by tsc.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "./client";
import type { components } from "./schema";
import type {
  CampaignCreate,
  CampaignDetail,
  CampaignListParams,
  Channel,
  CustomerDetail,
  CustomerListParams,
  MessageListParams,
  SendRequest,
} from "./models";

export type CampaignUpdate = components["schemas"]["CampaignUpdate"];
export type MessageDetail = components["schemas"]["MessageDetail"];
export type RetryResponse = components["schemas"]["RetryResponse"];

export type CustomerCreate = components["schemas"]["CustomerCreate"];
export type CustomerImportResult = components["schemas"]["CustomerImportResult"];
type CustomerImportBody = components["schemas"]["Body_import_customers_customers_import_post"];

export const queryKeys = {
  campaigns: ["campaigns"] as const,
  campaignList: (params: CampaignListParams) => ["campaigns", "list", params] as const,
  campaign: (id: number) => ["campaigns", "detail", id] as const,
  messages: (id: number, params: MessageListParams) => ["campaigns", "messages", id, params] as const,
  message: (campaignId: number, messageId: number) => ["campaigns", "message", campaignId, messageId] as const,
  customers: (params: CustomerListParams) => ["customers", params] as const,
  customer: (id: number) => ["customers", "detail", id] as const,
  templatePreview: (template: string, customerId: number, channel: Channel) =>
    ["template-preview", customerId, channel, template] as const,
  placeholders: ["template-placeholders"] as const,
  ready: ["ready"] as const,
};

/** Statuses a campaign never leaves by itself (only retry-failed takes sent/failed back to sending). */
export const FINAL_STATUSES: ReadonlySet<CampaignDetail["status"]> = new Set(["sent", "failed", "cancelled"]);

/**
 * How often to poll a campaign, by status: every second while sending. Paused and
 * scheduled campaigns can change without this page (the scheduler, another operator).
 * A cancelled campaign can still have attempts in flight (`inFlight`): they finish and
 * are recorded after the cancel, and nothing else would show their outcome.
 */
export function campaignPollInterval(status: CampaignDetail["status"] | undefined, inFlight = 0): number | false {
  if (status === "sending") return 1000;
  if (status === "scheduled" || status === "paused") return 5000;
  if (inFlight > 0) return 1000;
  return false;
}

export function useCampaigns(params: CampaignListParams) {
  return useQuery({
    queryKey: queryKeys.campaignList(params),
    queryFn: ({ signal }) => unwrap(api.GET("/campaigns", { params: { query: params }, signal })),
    placeholderData: keepPreviousData,
    // Keep badges honest while something on the page is sending.
    refetchInterval: (query) =>
      query.state.data?.data.some((c) => c.status === "sending") ? 3000 : false,
  });
}

/**
 * `poll: false` while something else keeps the detail fresh (the live event stream).
 * That stream ends with a final status, so a final campaign polls whatever `poll` says
 * (only while attempts are still in flight, see campaignPollInterval).
 */
export function useCampaign(id: number, { poll = true }: { poll?: boolean } = {}) {
  return useQuery({
    queryKey: queryKeys.campaign(id),
    queryFn: ({ signal }) =>
      unwrap(api.GET("/campaigns/{campaign_id}", { params: { path: { campaign_id: id } }, signal })),
    refetchInterval: (query) => {
      const campaign = query.state.data;
      if (!poll && !(campaign && FINAL_STATUSES.has(campaign.status))) return false;
      return campaignPollInterval(campaign?.status, campaign?.stats.sending);
    },
  });
}

/** One message with its attempt history; refreshed while it may still change. */
export function useMessage(campaignId: number, messageId: number) {
  return useQuery({
    queryKey: queryKeys.message(campaignId, messageId),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/campaigns/{campaign_id}/messages/{message_id}", {
          params: { path: { campaign_id: campaignId, message_id: messageId } },
          signal,
        }),
      ),
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === "pending" || status === "sending" ? 2000 : false;
    },
  });
}

export function useMessages(campaignId: number, params: MessageListParams, live: boolean) {
  return useQuery({
    queryKey: queryKeys.messages(campaignId, params),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/campaigns/{campaign_id}/messages", {
          params: { path: { campaign_id: campaignId }, query: params },
          signal,
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 2000 : false,
  });
}

export function useCustomers(params: CustomerListParams) {
  return useQuery({
    queryKey: queryKeys.customers(params),
    queryFn: ({ signal }) => unwrap(api.GET("/customers", { params: { query: params }, signal })),
    placeholderData: keepPreviousData,
  });
}

/** One customer with their consent history, newest first. */
export function useCustomer(id: number) {
  return useQuery({
    queryKey: queryKeys.customer(id),
    queryFn: ({ signal }) =>
      unwrap(api.GET("/customers/{customer_id}", { params: { path: { customer_id: id } }, signal })),
  });
}

/**
 * Opt a customer out (`optOut: true`) or back in. The answer is the customer's detail:
 * it replaces the cached one, and every list refetches (a filter may drop the row).
 */
export function useSetConsent(customerId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (optOut: boolean) =>
      unwrap(
        api.POST(optOut ? "/customers/{customer_id}/opt-out" : "/customers/{customer_id}/opt-in", {
          params: { path: { customer_id: customerId } },
        }),
      ),
    onSuccess: (customer: CustomerDetail) => {
      queryClient.setQueryData(queryKeys.customer(customerId), customer);
      void queryClient.invalidateQueries({
        queryKey: ["customers"],
        predicate: (query) => query.queryKey[1] !== "detail",
      });
    },
  });
}

/** `channel` sets the length the rendering must fit (an SMS is shorter than a WhatsApp text). */
export function useTemplatePreview(template: string, customerId: number | null, channel: Channel) {
  return useQuery({
    queryKey: queryKeys.templatePreview(template, customerId ?? 0, channel),
    queryFn: ({ signal }) =>
      unwrap(api.POST("/templates/preview", { body: { template, customer_id: customerId ?? 0, channel }, signal })),
    enabled: customerId !== null && template.trim() !== "",
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 60_000,
  });
}

/** The customer fields a template may use. They change only with a new API version. */
export function usePlaceholders() {
  return useQuery({
    queryKey: queryKeys.placeholders,
    queryFn: ({ signal }) => unwrap(api.GET("/templates/placeholders", { signal })),
    select: (answer) => answer.placeholders,
    staleTime: Infinity,
  });
}

export function useReadiness() {
  return useQuery({
    queryKey: queryKeys.ready,
    queryFn: ({ signal }) => unwrap(api.GET("/ready", { signal })),
    refetchInterval: 15_000,
    retry: false,
  });
}

export function useCreateCampaign() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: CampaignCreate) => unwrap(api.POST("/campaigns", { body })),
    onSuccess: (campaign) => {
      queryClient.setQueryData(queryKeys.campaign(campaign.id), campaign);
      void queryClient.invalidateQueries({ queryKey: ["campaigns", "list"] });
    },
  });
}

export function useSendCampaign(campaignId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ body, idempotencyKey }: { body: SendRequest; idempotencyKey: string }) =>
      unwrap(
        api.POST("/campaigns/{campaign_id}/send", {
          params: { path: { campaign_id: campaignId }, header: { "Idempotency-Key": idempotencyKey } },
          body,
        }),
      ),
    onSuccess: () => {
      // Flip to "sending" right away so polling starts before the refetch lands.
      queryClient.setQueryData<CampaignDetail>(queryKeys.campaign(campaignId), (old) =>
        old ? { ...old, status: "sending" } : old,
      );
      void queryClient.invalidateQueries({ queryKey: queryKeys.campaigns });
    },
  });
}

/**
 * After a control action: its answer is the new detail, so the page shows it at once;
 * lists (status badges) and the messages (cancelled ones) refetch.
 */
function useApplyDetail(campaignId: number) {
  const queryClient = useQueryClient();
  return (campaign: CampaignDetail) => {
    queryClient.setQueryData(queryKeys.campaign(campaignId), campaign);
    void queryClient.invalidateQueries({ queryKey: ["campaigns", "list"] });
    void queryClient.invalidateQueries({ queryKey: ["campaigns", "messages", campaignId] });
  };
}

export function usePauseCampaign(campaignId: number) {
  const apply = useApplyDetail(campaignId);
  return useMutation({
    mutationFn: (reason: string | null) =>
      unwrap(
        api.POST("/campaigns/{campaign_id}/pause", {
          params: { path: { campaign_id: campaignId } },
          // No body: the API records its own default reason.
          ...(reason ? { body: { reason } } : {}),
        }),
      ),
    onSuccess: apply,
  });
}

export function useResumeCampaign(campaignId: number) {
  const apply = useApplyDetail(campaignId);
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/campaigns/{campaign_id}/resume", { params: { path: { campaign_id: campaignId } } })),
    onSuccess: apply,
  });
}

export function useCancelCampaign(campaignId: number) {
  const apply = useApplyDetail(campaignId);
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/campaigns/{campaign_id}/cancel", { params: { path: { campaign_id: campaignId } } })),
    onSuccess: apply,
  });
}

export function useRetryFailed(campaignId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (idempotencyKey: string) =>
      unwrap(
        api.POST("/campaigns/{campaign_id}/retry-failed", {
          params: { path: { campaign_id: campaignId }, header: { "Idempotency-Key": idempotencyKey } },
        }),
      ),
    onSuccess: (answer) => {
      // Not a detail: take the new status now (so live progress starts) and fetch the rest.
      queryClient.setQueryData<CampaignDetail>(queryKeys.campaign(campaignId), (old) =>
        old ? { ...old, status: answer.status } : old,
      );
      void queryClient.invalidateQueries({ queryKey: queryKeys.campaigns });
    },
  });
}

export function useUpdateCampaign(campaignId: number) {
  const apply = useApplyDetail(campaignId);
  return useMutation({
    mutationFn: (body: CampaignUpdate) =>
      unwrap(api.PATCH("/campaigns/{campaign_id}", { params: { path: { campaign_id: campaignId } }, body })),
    onSuccess: apply,
  });
}

/** Every customer list (this page's and the pickers') may now have new rows. */
function refreshCustomerLists(queryClient: ReturnType<typeof useQueryClient>) {
  return queryClient.invalidateQueries({ queryKey: ["customers"] });
}

export function useCreateCustomer() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: CustomerCreate) => unwrap(api.POST("/customers", { body })),
    onSuccess: () => void refreshCustomerLists(queryClient),
  });
}

/**
 * Upload a CSV as the multipart field `file`. The schema types a binary field as
 * a string (openapi-typescript's reading of `format: binary`), so the File goes in
 * under that type and the serializer hands it to FormData untouched; the browser
 * then sets the multipart Content-Type with its boundary.
 */
export function useImportCustomers() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.POST("/customers/import", {
          body: { file } as unknown as CustomerImportBody,
          bodySerializer: (body) => {
            const form = new FormData();
            form.append("file", body.file as unknown as Blob);
            return form;
          },
        }),
      ),
    onSuccess: (result) => {
      if (result.created > 0) void refreshCustomerLists(queryClient);
    },
  });
}
