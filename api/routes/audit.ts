// The audit log of configuration changes, for admins.
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { defineRoute, pageLimit, type AnyRoute } from '../registry.js';

export function auditRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      id: 'listAudit',
      method: 'get',
      path: '/v1/audit',
      access: ['admin'],
      tag: 'audit',
      summary: 'Configuration changes, newest first: who (key), what, before/after, when',
      query: z
        .object({
          limit: pageLimit(50),
          before: z.coerce.number().int().positive().optional().describe('nextCursor of the previous page'),
          target: z.string().max(100).optional().describe('only this target, e.g. camera:cam-1'),
        })
        .strict(),
      handler: async ({ query }) => deps.audit!.list({ limit: query.limit, before: query.before ?? null, target: query.target }),
    }),
  ];
}
