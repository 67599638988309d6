import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { watchCampaignProgress } from "../../api/eventStream";
import type { CampaignDetail } from "../../api/models";
import { FINAL_STATUSES, queryKeys, useCampaign } from "../../api/queries";

/**
 * - `off`: not watching (the campaign is final, or not loaded yet).
 * - `connecting`: the stream is being opened; polling still runs meanwhile.
 * - `live`: the stream delivered the detail; it is the only source of updates.
 * - `fallback`: the stream failed; polling takes over until a reconnect works.
 */
export type LiveState = "off" | "connecting" | "live" | "fallback";

export const RECONNECT_BASE_MS = 2000;
const RECONNECT_MAX_MS = 30_000;

/**
 * The campaign's detail query, kept fresh by its event stream while the campaign is not
 * final: each `progress` event (the full detail) is written into the query's cache, and
 * the query does not poll meanwhile. The stream ends by itself after a final status;
 * ending any other way (an error, the server going away) counts as a failure: the query
 * polls instead, and the stream is tried again with a backoff.
 */
export function useLiveCampaign(campaignId: number) {
  const queryClient = useQueryClient();
  const [attempt, setAttempt] = useState(0);
  const failures = useRef(0);
  // The state belongs to one connection: a new one starts as "connecting" without a
  // synchronous setState in the effect.
  const connection = `${campaignId}:${attempt}`;
  const [state, setState] = useState<{ connection: string; value: LiveState }>({ connection: "", value: "off" });
  const current: LiveState = state.connection === connection ? state.value : "connecting";
  // The stream needs the status first (a final campaign has nothing to follow): the
  // detail is fetched once, then the stream takes over.
  const query = useCampaign(campaignId, { poll: current !== "live" });
  const active = query.data !== undefined && !FINAL_STATUSES.has(query.data.status);

  useEffect(() => {
    if (!active) return;
    let reconnect: ReturnType<typeof setTimeout> | undefined;
    let disposed = false;
    const stream = watchCampaignProgress(campaignId, {
      onProgress: (campaign) => {
        failures.current = 0;
        queryClient.setQueryData(queryKeys.campaign(campaignId), campaign);
        setState({ connection, value: "live" });
        // This stream is over; should the campaign go back to sending (retry-failed),
        // the next one starts as a new connection, not as this one's "live".
        if (FINAL_STATUSES.has(campaign.status)) setAttempt((n) => n + 1);
      },
    });
    void stream.done.then((end) => {
      // Closed by us (unmounted, or the campaign became final), or no longer wanted.
      if (end === "aborted" || disposed) return;
      const current = queryClient.getQueryData<CampaignDetail>(queryKeys.campaign(campaignId));
      if (end === "closed" && current && FINAL_STATUSES.has(current.status)) {
        setState({ connection, value: "off" });
        return;
      }
      setState({ connection, value: "fallback" });
      const delay = Math.min(RECONNECT_BASE_MS * 2 ** failures.current, RECONNECT_MAX_MS);
      failures.current += 1;
      reconnect = setTimeout(() => setAttempt((n) => n + 1), delay);
    });
    return () => {
      disposed = true;
      clearTimeout(reconnect);
      stream.close();
    };
  }, [active, campaignId, connection, queryClient]);

  return { query, live: active ? current : ("off" as LiveState) };
}
