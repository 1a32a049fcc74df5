// Builds web/dist from web/src and the pinned npm packages: nothing is fetched at run time, nothing from a CDN.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const docs = join(dist, "docs");
const consoleDir = join(dist, "console");
const swagger = join(here, "node_modules", "swagger-ui-dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(docs, { recursive: true });
mkdirSync(consoleDir, { recursive: true });
// the API reference at /docs: Swagger UI's prebuilt bundle, its stylesheet and licence, and our page
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) {
  cpSync(join(swagger, name), join(docs, name));
}
cpSync(join(here, "src", "docs"), docs, { recursive: true });
// the console at /: preact + htm bundled and minified by esbuild into one script, one stylesheet, one page
// the reports' chart library (echarts) is a chunk of its own, fetched when the reports screen first opens
const { metafile } = await build({
  entryPoints: { console: join(here, "src", "console", "main.js") },
  bundle: true, minify: true, format: "esm", splitting: true, target: ["chrome100", "firefox100", "safari15"],
  outdir: consoleDir, entryNames: "[name]", chunkNames: "chunk-[hash]", legalComments: "eof", logLevel: "warning",
  metafile: true,
});
const chunks = Object.keys(metafile.outputs).map((p) => p.split("/").pop()).filter((n) => n.startsWith("chunk-"));
await build({
  entryPoints: [join(here, "src", "console", "console.css")],
  bundle: true, minify: true, outfile: join(consoleDir, "console.css"), logLevel: "warning",
});
cpSync(join(here, "src", "console", "index.html"), join(consoleDir, "index.html"));
// compressed once here: the service sends console.js.br / .gz to browsers that accept them (aiohttp picks them)
function compressed(dir, names) {
  for (const name of names) {
    const raw = readFileSync(join(dir, name));
    writeFileSync(join(dir, `${name}.gz`), gzipSync(raw, { level: 9 }));
    writeFileSync(join(dir, `${name}.br`), brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
}
compressed(consoleDir, ["console.js", "console.css", "index.html", ...chunks]);
compressed(docs, ["swagger-ui-bundle.js", "swagger-ui.css", "index.html", "docs.js", "docs.css"]);
// axe-core for the browser tests' accessibility check (not served)
cpSync(join(here, "node_modules", "axe-core", "axe.min.js"), join(dist, "axe.min.js"));
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
