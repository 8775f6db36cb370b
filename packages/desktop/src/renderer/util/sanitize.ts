import DOMPurify from 'dompurify';

/**
 * Remote e-mail HTML made safe to show: no script, handlers, forms, styles or remote frames. The
 * result goes into an <iframe sandbox=""> (no script, unique origin) as a second line of defence.
 */
export function sanitizeEmailHtml(raw: string): string {
  return DOMPurify.sanitize(raw, {
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame', 'object', 'embed', 'link', 'meta', 'base'],
    FORBID_ATTR: ['style', 'srcset', 'action', 'formaction'],
    ALLOW_DATA_ATTR: false,
  });
}
