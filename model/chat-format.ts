// LLaDA's special token names and chat format, shared by the tokenizer loader and the char
// tokenizer builder: the plain-TypeScript renderer and the Jinja chat_template that renders the
// same string. Deliberately not here: tokenization itself.
// Token names: LLaDA's tokenizer (GSAI-ML/LLaDA-8B-*, <|mdm_mask|> = 126336). Format: LLaDA's
// README / generate.py prompts (Llama-3 headers, <|startoftext|> as BOS, content trimmed).

export const SPECIAL = {
  eos: '<|endoftext|>',
  bos: '<|startoftext|>',
  mask: '<|mdm_mask|>',
  startHeader: '<|start_header_id|>',
  endHeader: '<|end_header_id|>',
  eot: '<|eot_id|>',
} as const;

export interface ChatMessage {
  role: string;
  content: string;
}

/** BOS, then "<|start_header_id|>{role}<|end_header_id|>\n\n{content.trim()}<|eot_id|>" per message. */
export function renderLladaChat(
  messages: readonly ChatMessage[],
  addGenerationPrompt: boolean,
  bos: string = SPECIAL.bos,
): string {
  const header = (role: string) => `${SPECIAL.startHeader}${role}${SPECIAL.endHeader}\n\n`;
  let out = bos;
  for (const m of messages) out += header(m.role) + m.content.trim() + SPECIAL.eot;
  if (addGenerationPrompt) out += header('assistant');
  return out;
}

/** Jinja source rendering exactly what renderLladaChat returns (tested against it). */
export const LLADA_CHAT_TEMPLATE =
  '{{- bos_token -}}' +
  '{%- for message in messages -%}' +
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] | trim) + '<|eot_id|>' -}}" +
  '{%- endfor -%}' +
  "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}";
