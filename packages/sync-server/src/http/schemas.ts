// Request schemas of the REST routes, shared by routes.ts (validation) and openapi.ts (the document);
// a module of their own so the two do not import each other.
import { z } from 'zod';
import { ConversationStatus, Id, Label, Priority } from '@goutong/core';

export const SendMessageBody = z.object({
  text: z.string().max(100_000),
  kind: z.enum(['text', 'note']).optional(),
  subject: z.string().max(998).optional(),
});

export const PatchConversationBody = z
  .object({
    status: ConversationStatus.optional(),
    snoozedUntil: z.number().int().positive().optional(),
    priority: Priority.optional(),
    assigneeId: Id.nullable().optional(),
    teamId: Id.nullable().optional(),
    labels: z.array(Label).max(50).optional(),
  })
  .strict();

export const ConversationListQuery = z.object({
  status: z.string().max(200).optional(),
  assigneeId: z.string().max(128).optional(),
  inboxId: Id.optional(),
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(25),
  /** [automation] Search: a ticket number (`1234`, `#1234`) or text in the contact name, subject or preview. */
  q: z.string().trim().max(200).optional(),
});

export const PageQuery = z.object({ cursor: z.string().max(512).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });
