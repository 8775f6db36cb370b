// [fields] The OpenAPI paths of custom contact fields, segments, targeted offers and the offers
// report (fieldRoutes.ts). Bodies are core's schemas, so the document says what the routes parse.
import { z } from 'zod';
import { ContactField, ContactFieldInput, ContactFieldPatch, Offer, OfferInput, OfferPatch, ReportQuery, Segment, SegmentInput } from '@goutong/core';
import { js } from '../jsonSchema.js';

type Helpers = {
  ok: (schema: unknown, description?: string) => Record<string, unknown>;
  errors: Record<string, unknown>;
  json: (schema: unknown) => Record<string, unknown>;
  bearer: Array<Record<string, unknown[]>>;
  idParam: Record<string, unknown>;
};
const list = (item: Record<string, unknown>) => ({ type: 'object', properties: { items: { type: 'array', items: item } } });

export function fieldsOpenApiPaths(h: Helpers): Record<string, unknown> {
  const { ok, errors, json, bearer, idParam } = h;
  const deleted = { '204': { description: 'Deleted' }, ...errors };
  const crud = (what: string, item: z.ZodType, input: z.ZodType, patch: z.ZodType, base: string, readers: string) => ({
    [base]: {
      get: { summary: `The ${what}s of the workspace (${readers})`, security: bearer, responses: ok(list(js(item))) },
      post: { summary: `Create a ${what} (settings.manage; audited)`, security: bearer, requestBody: { required: true, content: json(js(input)) }, responses: { '201': { description: 'Created', content: json(js(item)) }, ...errors } },
    },
    [`${base}/{id}`]: {
      patch: { summary: `Change a ${what} (settings.manage; audited)`, security: bearer, parameters: [idParam], requestBody: { required: true, content: json(js(patch)) }, responses: ok(js(item)) },
      delete: { summary: `Delete a ${what} (settings.manage; audited)`, security: bearer, parameters: [idParam], responses: deleted },
    },
  });
  const reportParams = Object.entries((js(ReportQuery) as { properties?: Record<string, Record<string, unknown>> }).properties ?? {})
    .map(([name, schema]) => ({ name, in: 'query', required: name === 'from' || name === 'to', schema }));
  return {
    ...crud('custom contact field', ContactField, ContactFieldInput, ContactFieldPatch, '/api/v1/contact-fields',
      'every agent; values are contact attributes set with the update_contact command and checked against these definitions; phone and email fields are personal data, masked without pii.view'),
    ...crud('segment', Segment, SegmentInput, SegmentInput.partial(), '/api/v1/segments', 'every agent: the apps evaluate them offline with core `matchesSegment`'),
    ...crud('targeted offer', Offer, OfferInput, OfferPatch, '/api/v1/offers', 'every agent: the composer suggests the live offers whose segment the customer is in; a reply sent with `offerId` counts one use'),
    '/api/v1/segments/{id}/contacts': {
      get: {
        summary: 'The contacts of a segment the caller may see, newest first (masked without pii.view)', security: bearer,
        parameters: [idParam, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } }, { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } }],
        responses: ok({ type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, nextOffset: { type: ['integer', 'null'] } } }),
      },
    },
    '/api/v1/reports/offers': {
      get: {
        summary: 'Uses of each targeted offer in the period (replies sent with it), with distinct conversations and agents (reports.view). With `Accept: text/csv` (or `format=csv`): the table as CSV (needs data.export; audited)',
        security: bearer, parameters: reportParams,
        responses: ok({
          type: 'object',
          properties: {
            from: { type: 'integer' }, to: { type: 'integer' }, total: { type: 'integer' },
            items: { type: 'array', items: { type: 'object', properties: { offerId: { type: 'string' }, title: { type: 'string' }, uses: { type: 'integer' }, conversations: { type: 'integer' }, agents: { type: 'integer' } } } },
          },
        }),
      },
    },
  };
}
