// Builds the console into dist/, served by the Weft server at /ui/ (src/server/console-assets.ts).
// The API's generated code is the repository's gen/ts (imported as @gen), resolved against this
// package's own @bufbuild/protobuf.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  resolve: {
    alias: { "@gen": fileURLToPath(new URL("../gen/ts", import.meta.url)) },
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "react", "react-dom"],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
});
