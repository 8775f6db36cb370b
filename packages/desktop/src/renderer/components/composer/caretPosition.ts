// Where the caret of a textarea is on screen: a hidden mirror element with the textarea's text
// styles gets the text up to the caret and a marker span; the marker's offset is the caret's.
const COPIED = [
  'boxSizing', 'width', 'height', 'overflowX', 'overflowY', 'borderTopWidth', 'borderRightWidth', 'borderBottomWidth', 'borderLeftWidth',
  'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft', 'fontStyle', 'fontVariant', 'fontWeight', 'fontStretch', 'fontSize',
  'lineHeight', 'fontFamily', 'textAlign', 'textTransform', 'textIndent', 'letterSpacing', 'wordSpacing', 'tabSize',
] as const;

/** The caret's position relative to the textarea's top-left corner (after its scroll), and the line height. */
export function caretOffset(el: HTMLTextAreaElement, position: number): { top: number; left: number; height: number } {
  const doc = el.ownerDocument;
  const mirror = doc.createElement('div');
  const style = getComputedStyle(el);
  for (const p of COPIED) mirror.style[p] = style[p];
  mirror.style.position = 'absolute';
  mirror.style.visibility = 'hidden';
  mirror.style.top = '0';
  mirror.style.left = '-9999px';
  mirror.style.whiteSpace = 'pre-wrap';
  mirror.style.overflowWrap = 'break-word';
  mirror.textContent = el.value.slice(0, position);
  const marker = doc.createElement('span');
  marker.textContent = el.value.slice(position) || '.';
  mirror.appendChild(marker);
  doc.body.appendChild(mirror);
  const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4 || 18;
  const out = { top: marker.offsetTop - el.scrollTop, left: marker.offsetLeft - el.scrollLeft, height: lineHeight };
  mirror.remove();
  return out;
}
