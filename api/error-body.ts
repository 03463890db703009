// The body of every refused API request. Its own module without imports so the operator console can
// read the same type (api/console/src/api.ts imports it type-only).
export interface ErrorBody {
  error: { code: string; message: string; field?: string; requestId: string };
}
