// Who is signed in and what their role may call (GET /v1/me lists the allowed operationIds).
import { signal } from '@preact/signals';
import { api, ApiError, setUnauthorizedHandler, storedKey, storeKey, type Me } from './api';

export const me = signal<Me | null>(null);
export const authError = signal<string | null>(null);

/** True when the signed-in key's role may call the operation (an operationId of /openapi.json). */
export function can(operationId: string): boolean {
  return me.value?.operations.includes(operationId) ?? false;
}

export async function signIn(key: string): Promise<void> {
  const who = await api<Me>('/v1/me', { key });
  storeKey(key);
  me.value = who;
  authError.value = null;
}

export function signOut(message: string | null = null): void {
  storeKey(null);
  me.value = null;
  authError.value = message;
}

/** Restores the session from the stored key (at load). */
export async function restore(): Promise<void> {
  const key = storedKey();
  if (!key) return;
  try {
    me.value = await api<Me>('/v1/me', { key });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) signOut(err.message);
    else authError.value = (err as Error).message;
  }
}

setUnauthorizedHandler(() => signOut('the API key was refused (revoked or unknown); sign in again'));
