import type { IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";
import { EXTRA_API_PREFIXES, apiPrefixesFromFile } from "./tooling/apiPrefixes.ts";
import { swaggerUiAssets } from "./tooling/swaggerAssets.ts";

const API_TARGET = process.env.API_TARGET ?? "http://127.0.0.1:8000";

// Paths owned by the FastAPI service, read from its OpenAPI document. `/campaigns/...`
// is also a client-side route, so a browser navigation (Accept: text/html) is served
// the SPA instead of being proxied; fetches from the app send Accept: application/json.
const API_PREFIXES = apiPrefixesFromFile(fileURLToPath(new URL("./openapi.json", import.meta.url)));

function spaNavigation(req: IncomingMessage): string | undefined {
  const accept = req.headers.accept ?? "";
  // The docs page is the API's own HTML, never a page of this app.
  if (EXTRA_API_PREFIXES.some((prefix) => req.url?.startsWith(prefix))) return undefined;
  return req.method === "GET" && accept.includes("text/html") ? "/index.html" : undefined;
}

export default defineConfig({
  base: "/",
  plugins: [react(), swaggerUiAssets()],
  server: {
    proxy: Object.fromEntries(
      API_PREFIXES.map((prefix) => [
        prefix,
        { target: API_TARGET, changeOrigin: false, bypass: spaNavigation },
      ]),
    ),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}", "tooling/**/*.test.ts"],
    restoreMocks: true,
  },
});
