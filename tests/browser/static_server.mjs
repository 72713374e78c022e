// Serves one directory on 127.0.0.1 at a free port, for a test page that
// lives on another origin than the voxpipe server (as a front end's dev
// server does). Prints "serving on PORT". Usage: node static_server.mjs DIR
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const root = process.argv[2];
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
const server = createServer(async (request, response) => {
  // A URL's path is already resolved ("/../x" is "/x"): nothing outside root.
  const path = normalize(new URL(request.url, "http://x").pathname);
  try {
    const body = await readFile(join(root, path === "/" ? "index.html" : path));
    response.writeHead(200, { "Content-Type": types[extname(path)] || types[".html"] });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end();
  }
});
server.listen(0, "127.0.0.1", () => console.log(`serving on ${server.address().port}`));
