/** The OpenAPI paths of business hours, team calendars, SLA policies and lifecycle settings (slaRoutes.ts). */
export function slaOpenApiPaths(h: {
  ok: (schema: unknown, description?: string) => Record<string, unknown>;
  errors: Record<string, unknown>;
  json: (schema: unknown) => Record<string, unknown>;
  ref: (name: string) => Record<string, unknown>;
  bearer: Array<Record<string, unknown[]>>;
  idParam: Record<string, unknown>;
}): Record<string, unknown> {
  const { ok, errors, json, ref, bearer, idParam } = h;
  const list = (name: string) => ok({ type: 'object', properties: { items: { type: 'array', items: ref(name) } } });
  const created = (name: string) => ({ '201': { description: 'Created', content: json(ref(name)) }, ...errors });
  const deleted = (extra: string) => ({ '204': { description: 'Deleted' }, ...errors, '409': { description: extra, content: json(ref('Error')) } });
  return {
    '/api/v1/business-hours': {
      get: { summary: 'Business-hours calendars of the tenant (weekly hours, holidays, IANA time zone)', security: bearer, responses: list('BusinessHours') },
      post: {
        summary: 'Create a calendar (admin). Overlapping or inverted hours, duplicate holidays and unknown time zones are refused with 400.',
        security: bearer, requestBody: { required: true, content: json(ref('BusinessHoursInput')) }, responses: created('BusinessHours'),
      },
    },
    '/api/v1/business-hours/{id}': {
      get: { summary: 'One calendar', security: bearer, parameters: [idParam], responses: ok(ref('BusinessHours')) },
      patch: { summary: 'Update a calendar (admin); each sent field replaces the stored one', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(ref('BusinessHoursInput')) }, responses: ok(ref('BusinessHours')) },
      delete: { summary: 'Delete a calendar (admin)', security: bearer, parameters: [idParam], responses: deleted('An inbox, team or SLA policy still refers to the calendar') },
    },
    '/api/v1/teams/{id}/calendar': {
      get: { summary: 'A team\'s calendar and supervisor. A team\'s calendar wins over its inbox\'s.', security: bearer, parameters: [idParam], responses: ok({ type: 'object', properties: { teamId: { type: 'string' }, businessHoursId: { type: ['string', 'null'] }, supervisorId: { type: ['string', 'null'] } } }) },
      patch: {
        summary: 'Set a team\'s calendar and/or supervisor (admin; sent fields replace stored ones); the supervisor receives SLA escalations', security: bearer, parameters: [idParam],
        requestBody: { required: true, content: json({ type: 'object', properties: { businessHoursId: { type: ['string', 'null'] }, supervisorId: { type: ['string', 'null'] } } }) },
        responses: ok({ type: 'object' }),
      },
    },
    '/api/v1/sla-policies': {
      get: { summary: 'SLA policies of the tenant', security: bearer, responses: list('SlaPolicy') },
      post: {
        summary: 'Create an SLA policy (admin): targets per priority in seconds of business time (first response, next response, resolution), scope (inboxIds, teamIds or isDefault; team beats inbox beats default), calendar, warning (percent or minutesBefore) and escalations (raisePriority, notify, reassignToSupervisor). Conversations it applies to carry `sla` {policyId, firstResponseDueAt, nextResponseDueAt, resolutionDueAt, breached}.',
        security: bearer, requestBody: { required: true, content: json(ref('SlaPolicyInput')) }, responses: created('SlaPolicy'),
      },
    },
    '/api/v1/sla-policies/{id}': {
      get: { summary: 'One SLA policy', security: bearer, parameters: [idParam], responses: ok(ref('SlaPolicy')) },
      patch: { summary: 'Update an SLA policy (admin); sent fields replace stored ones', security: bearer, parameters: [idParam], requestBody: { required: true, content: json(ref('SlaPolicyInput')) }, responses: ok(ref('SlaPolicy')) },
      delete: { summary: 'Delete an SLA policy (admin); running clocks stop firing', security: bearer, parameters: [idParam], responses: { '204': { description: 'Deleted' }, ...errors } },
    },
    '/api/v1/lifecycle-settings': {
      get: { summary: 'Lifecycle settings: pending auto-resolve silence and reopen window (seconds; null: off)', security: bearer, responses: ok(ref('LifecycleSettings')) },
      patch: { summary: 'Update lifecycle settings (admin)', security: bearer, requestBody: { required: true, content: json(ref('LifecycleSettings')) }, responses: ok(ref('LifecycleSettings')) },
    },
  };
}
