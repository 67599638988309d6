import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Plugin } from "vite";

/** What the API's /docs page loads, under `/swagger/`; the licence goes with the code. */
export const SWAGGER_FILES = [
  "swagger-ui-bundle.js",
  "swagger-ui.css",
  "favicon-32x32.png",
  "LICENSE",
  "NOTICE",
] as const;

/** Where the files of the installed swagger-ui-dist package are. */
export function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

/**
 * Copies Swagger UI from the swagger-ui-dist package into the build as
 * `dist/swagger/…`, so the API's /docs works with no internet access.
 */
export function swaggerUiAssets(): Plugin {
  return {
    name: "campaign-dispatch:swagger-ui-assets",
    apply: "build",
    async generateBundle() {
      const dir = swaggerUiDir();
      for (const name of SWAGGER_FILES) {
        this.emitFile({ type: "asset", fileName: `swagger/${name}`, source: await readFile(join(dir, name)) });
      }
    },
  };
}
