// Builds web/dist from web/src and the pinned npm packages: nothing is fetched at run time, nothing from a CDN.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const docs = join(dist, "docs");
const swagger = join(here, "node_modules", "swagger-ui-dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(docs, { recursive: true });
// the API reference at /docs: Swagger UI's prebuilt bundle, its stylesheet and licence, and our page
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) {
  cpSync(join(swagger, name), join(docs, name));
}
cpSync(join(here, "src", "docs"), docs, { recursive: true });
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
