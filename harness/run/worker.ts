// A worker thread of `hvdiff fuzz --jobs N` (piscina): runs one chunk per task.

import { runChunk, type ChunkResult, type ChunkTask } from "./chunk.js";

export default function (task: ChunkTask): ChunkResult {
  return runChunk(task);
}
