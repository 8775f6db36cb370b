// [accounts] The OpenAPI paths of accounts, sessions, data subject rights and retention (merged into
// buildOpenApi with one spread). Bodies are the routes' own zod schemas.
import { z } from 'zod';
import { Agent, LoginRequest, MfaLoginRequest, MfaRequiredResponse, RetentionPolicy, TokenResponse } from '@goutong/core';
import { InviteAgentBody, LinkPasswordBody, PatchAgentBody } from './agentRoutes.js';
import { ChangePasswordBody } from './accountRoutes.js';
import { js } from '../jsonSchema.js';
const body = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: js(s) } } });
const answer = (schema: unknown, description = 'OK', code = '200') => ({ [code]: { description, content: { 'application/json': { schema } } }, '400': { description: 'Invalid input' }, '401': { description: 'Not signed in (details.wipe: the device must erase its data)' }, '403': { description: 'Not allowed' } });
const none = (description: string) => ({ '204': { description }, '400': { description: 'Invalid input' }, '401': { description: 'Not signed in' }, '403': { description: 'Not allowed' } });
const bearer = [{ bearer: [] }];
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const sessionId = { name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } };
const wipe = { name: 'wipe', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] }, description: 'also tell the device to erase its local data' };
const Session = js(z.object({ id: z.string(), deviceName: z.string().nullable(), platform: z.string().nullable(), ip: z.string().nullable(), createdAt: z.number(), lastSeenAt: z.number(), current: z.boolean() }));
const Sessions = { type: 'object', properties: { items: { type: 'array', items: Session } } };
const Code = js(z.object({ code: z.string() }));
const Password = js(z.object({ password: z.string() }));

export function accountsPaths(): Record<string, unknown> {
  return {
    // Replaces the core document's entries of these paths (the same GET, plus what accounts add).
    '/api/v1/auth/login': { post: { summary: 'Log in with e-mail and password (deviceName and platform name the session); with two-factor on, the answer is {mfaRequired, mfaToken} and /api/v1/auth/mfa gives the tokens', requestBody: body(LoginRequest), responses: answer({ oneOf: [js(TokenResponse), js(MfaRequiredResponse)] }) } },
    '/api/v1/agents': {
      get: { summary: 'Agents of the tenant', security: bearer, responses: answer({ type: 'object', properties: { items: { type: 'array', items: js(Agent) } } }) },
      post: { summary: 'Invite an agent (admins): a one-time invite link, valid 7 days', security: bearer, requestBody: body(InviteAgentBody), responses: answer(js(z.object({ agent: Agent, inviteToken: z.string(), inviteUrl: z.string(), expiresAt: z.number() })), 'Invited', '201') },
    },
    '/api/v1/agents/{id}': { patch: { summary: 'Edit an agent (admins): name, role, teamIds, active (deactivation ends every session and wipes the devices)', security: bearer, parameters: [id], requestBody: body(PatchAgentBody), responses: answer(js(Agent)) } },
    '/api/v1/agents/{id}/password-reset': { post: { summary: 'A one-time password reset link (admins), valid 24 hours', security: bearer, parameters: [id], responses: answer(js(z.object({ resetToken: z.string(), resetUrl: z.string(), expiresAt: z.number() }))) } },
    '/api/v1/agents/{id}/mfa/reset': { post: { summary: "Turn off an agent's two-factor sign-in (admins)", security: bearer, parameters: [id], responses: none('Turned off') } },
    '/api/v1/agents/{id}/sessions': { get: { summary: "An agent's live sessions (the agent, or admins)", security: bearer, parameters: [id], responses: answer(Sessions) } },
    '/api/v1/agents/{id}/sessions/{sessionId}': { delete: { summary: "End one of an agent's sessions (the agent, or admins)", security: bearer, parameters: [id, sessionId, wipe], responses: none('Ended') } },
    '/api/v1/auth/accept-invite': { post: { summary: 'Set the password of an invitation (the link works once)', requestBody: body(LinkPasswordBody), responses: answer(js(z.object({ agent: Agent }))) } },
    '/api/v1/auth/reset-password': { post: { summary: 'Set a new password from a reset link (works once; every session ends)', requestBody: body(LinkPasswordBody), responses: answer(js(z.object({ agent: Agent }))) } },
    '/api/v1/auth/mfa': { post: { summary: 'The second step of a two-factor login: the mfaToken of the login answer and a TOTP or recovery code', requestBody: body(MfaLoginRequest), responses: answer(js(TokenResponse)) } },
    '/api/v1/me/password': { post: { summary: 'Change my password (the current one is required; my other sessions end)', security: bearer, requestBody: body(ChangePasswordBody), responses: answer(js(z.object({ sessionsEnded: z.number() }))) } },
    '/api/v1/me/mfa': { get: { summary: 'My two-factor status', security: bearer, responses: answer(js(z.object({ enabled: z.boolean(), pending: z.boolean(), recoveryCodesLeft: z.number() }))) } },
    '/api/v1/me/mfa/setup': { post: { summary: 'Start two-factor enrolment: a new secret as an otpauth:// URI and for manual entry', security: bearer, responses: answer(js(z.object({ secret: z.string(), otpauthUri: z.string() }))) } },
    '/api/v1/me/mfa/enable': { post: { summary: 'Confirm enrolment with a code; answers 10 single-use recovery codes (shown once)', security: bearer, requestBody: { required: true, content: { 'application/json': { schema: Code } } }, responses: answer(js(z.object({ recoveryCodes: z.array(z.string()) }))) } },
    '/api/v1/me/mfa/disable': { post: { summary: 'Turn two-factor sign-in off (password required)', security: bearer, requestBody: { required: true, content: { 'application/json': { schema: Password } } }, responses: none('Turned off') } },
    '/api/v1/me/mfa/recovery-codes': { post: { summary: 'New recovery codes (password required)', security: bearer, requestBody: { required: true, content: { 'application/json': { schema: Password } } }, responses: answer(js(z.object({ recoveryCodes: z.array(z.string()) }))) } },
    '/api/v1/me/sessions': { get: { summary: 'My sessions and devices (device name, platform, IP, last seen)', security: bearer, responses: answer(Sessions) } },
    '/api/v1/me/sessions/{id}': { delete: { summary: 'End one of my sessions (wipe=true: the device erases its data, e.g. a lost phone)', security: bearer, parameters: [id, wipe], responses: none('Ended') } },
    '/api/v1/me/sessions/{id}/end': { post: { summary: 'As DELETE, for clients that send only GET and POST', security: bearer, parameters: [id], requestBody: { content: { 'application/json': { schema: js(z.object({ wipe: z.boolean().optional() })) } } }, responses: none('Ended') } },
    '/api/v1/me/sessions/end-others': { post: { summary: 'Sign out all my other devices', security: bearer, responses: answer(js(z.object({ ended: z.number() }))) } },
    '/api/v1/contacts/{id}/export': { get: { summary: 'Everything about a contact (admins, supervisors; audited): contact, identities, attributes, conversations, messages, attachments', security: bearer, parameters: [id, { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: ['json', 'csv'] } }], responses: { '200': { description: 'The export', content: { 'application/json': { schema: { type: 'object' } }, 'text/csv': { schema: { type: 'string' } } } } } } },
    '/api/v1/contacts/{id}/erase': { post: { summary: "Erase a contact's personal data (admins): names, identities, attributes, message texts and subjects, attachments; statistics are kept", security: bearer, parameters: [id], responses: answer(js(z.object({ erased: z.boolean(), messages: z.number(), seq: z.number() }))) } },
    '/api/v1/settings/retention': {
      get: { summary: 'The retention policy (announced to devices in pulls)', security: bearer, responses: answer(js(RetentionPolicy)) },
      put: { summary: 'Set the retention policy (admins): purge messages and recordings older than N days, per channel optional', security: bearer, requestBody: body(RetentionPolicy), responses: answer(js(RetentionPolicy)) },
    },
  };
}
