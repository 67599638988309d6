import { readFileSync } from "node:fs";

/** Served by the API but not part of its `paths`: the document itself and the docs page with its assets. */
export const EXTRA_API_PREFIXES = ["/openapi.json", "/docs", "/swagger"] as const;

/**
 * The URL prefixes the API owns: the first segment of every path in its
 * OpenAPI document (`/campaigns/{campaign_id}/send` → `/campaigns`), plus the
 * docs. The dev server proxies these, so a new route needs no config change.
 */
export function apiPrefixes(paths: Iterable<string>): string[] {
  const prefixes = new Set<string>();
  for (const path of paths) {
    const first = path.split("/")[1];
    // A path that starts with a parameter (`/{id}`) would claim everything.
    if (first && !first.startsWith("{")) prefixes.add(`/${first}`);
  }
  return [...[...prefixes].sort(), ...EXTRA_API_PREFIXES];
}

/** `apiPrefixes` of an OpenAPI document on disk (web/openapi.json, from `make openapi`). */
export function apiPrefixesFromFile(file: string): string[] {
  const document = JSON.parse(readFileSync(file, "utf8")) as { paths?: Record<string, unknown> };
  return apiPrefixes(Object.keys(document.paths ?? {}));
}
