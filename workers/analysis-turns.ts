// Fair, fresh analysis turns across the cameras of one worker. Every camera loop joins one FIFO
// queue (a Semaphore) when it has a frame and holds at most one place in it, so turns go round the
// cameras and, when the worker is short of CPU, each camera's analysed fps falls by the same share
// instead of some cameras starving. The frame is picked when the turn comes: the newest one the
// source decoded meanwhile (older ones are dropped and counted), so waiting for a turn does not age
// what is analysed.
import { Semaphore } from '../pipeline/detect/session.js';

/** Runs `analyse` in the camera's next turn on the newest frame available then (or the one handed). */
export function analyseInTurn<F, R>(
  turns: Semaphore,
  handed: F,
  takeNewest: () => F | undefined,
  analyse: (frame: F) => Promise<R>,
): Promise<R> {
  return turns.run(() => analyse(takeNewest() ?? handed));
}

let shared: Semaphore | null = null;

/**
 * The worker's turn queue. One place more than INFER_CONCURRENCY lets the next camera's
 * pre-processing overlap the running inference; more would only park frames in the model session's
 * own queue, where they age.
 */
export function workerTurns(inferConcurrency: number): Semaphore {
  shared ??= new Semaphore(inferConcurrency + 1);
  return shared;
}
