import type { components } from "../../api/schema";

export type Segment = components["schemas"]["Segment"];

export interface SegmentDraft {
  /** Every customer (`{}`), or only those matching the fields below. */
  everyone: boolean;
  location: string;
  preferredProduct: string;
}

export const EMPTY_SEGMENT: SegmentDraft = { everyone: true, location: "", preferredProduct: "" };

export function segmentDraftFrom(segment: Segment | null | undefined): SegmentDraft {
  if (!segment) return EMPTY_SEGMENT;
  const location = segment.location ?? "";
  const preferredProduct = segment.preferred_product ?? "";
  return { everyone: !location && !preferredProduct, location, preferredProduct };
}

/** The segment to send, or null when "matching" was chosen with nothing to match. */
export function segmentFrom(draft: SegmentDraft): Segment | null {
  if (draft.everyone) return {};
  const segment: Segment = {};
  if (draft.location.trim()) segment.location = draft.location.trim();
  if (draft.preferredProduct.trim()) segment.preferred_product = draft.preferredProduct.trim();
  return Object.keys(segment).length > 0 ? segment : null;
}

/** In words, for the send button and the saved-audience label. */
export function describeSegment(segment: Segment): string {
  const parts = [
    segment.location ? `in ${segment.location}` : null,
    segment.preferred_product ? `who prefer ${segment.preferred_product}` : null,
  ].filter(Boolean);
  return parts.length > 0 ? `customers ${parts.join(" ")}` : "every customer";
}
