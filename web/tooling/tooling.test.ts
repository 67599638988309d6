import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { apiPrefixes, apiPrefixesFromFile } from "./apiPrefixes";
import { SWAGGER_FILES, swaggerUiDir } from "./swaggerAssets";

describe("dev proxy prefixes", () => {
  it("takes the first segment of each path, once, plus the docs", () => {
    expect(
      apiPrefixes(["/campaigns", "/campaigns/{campaign_id}/send", "/templates/placeholders", "/ready", "/{x}", "/"]),
    ).toEqual(["/campaigns", "/ready", "/templates", "/openapi.json", "/docs", "/swagger"]);
  });

  it("covers every path of web/openapi.json", () => {
    const prefixes = apiPrefixesFromFile(join(dirname(fileURLToPath(import.meta.url)), "..", "openapi.json"));
    expect(prefixes).toEqual(expect.arrayContaining(["/campaigns", "/customers", "/templates", "/ready", "/docs"]));
  });
});

describe("Swagger UI assets", () => {
  it("come from the installed swagger-ui-dist package", () => {
    for (const name of SWAGGER_FILES) expect(existsSync(join(swaggerUiDir(), name)), name).toBe(true);
  });
});
