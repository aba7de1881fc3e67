import { resolve } from "node:path";
import { defineConfig } from "vite";

// Built into the Python package, served by `ioc console`; nothing is fetched at run time.
export default defineConfig({
  base: "/",
  build: {
    outDir: resolve(import.meta.dirname, "../ioc/console/static"),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, "index.html"),
        docs: resolve(import.meta.dirname, "docs.html"),
      },
    },
  },
});
