// The CommonJS face of pair.ts for jsfuzz, which require()s its target: Node releases
// before 20.19 cannot require() an ES module, and on the later ones jsfuzz first tries to
// instrument the module as a script. The driver awaits a target declared async.
//
//   npx jsfuzz dist/harness/targets/pair.cjs DIR      (a path relative to the current directory)

let target: Promise<typeof import("./pair.js")> | null = null;

export async function fuzz(buf: Buffer): Promise<void> {
  target ??= import("./pair.js");
  (await target).fuzz(buf);
}
