import type { IncomingMessage } from "node:http";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const API_TARGET = process.env.API_TARGET ?? "http://127.0.0.1:8000";

// Paths owned by the FastAPI service. `/campaigns/...` is also a client-side
// route, so a browser navigation (Accept: text/html) is served the SPA instead
// of being proxied; fetches from the app send Accept: application/json.
const API_PREFIXES = [
  "/campaigns",
  "/customers",
  "/templates",
  "/health",
  "/ready",
  "/stats",
  "/metrics",
  "/openapi.json",
];

function spaNavigation(req: IncomingMessage): string | undefined {
  const accept = req.headers.accept ?? "";
  return req.method === "GET" && accept.includes("text/html") ? "/index.html" : undefined;
}

export default defineConfig({
  base: "/",
  plugins: [react()],
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
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
