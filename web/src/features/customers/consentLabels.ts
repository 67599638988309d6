import type { ConsentSource } from "../../api/models";

/** Where an opt-out or opt-in came from, as the consent history says. */
export const CONSENT_SOURCE_LABELS: Record<ConsentSource, string> = {
  api: "Dashboard or API",
  inbound: "Inbound message",
  provider: "Provider",
};
