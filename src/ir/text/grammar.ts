// The ohm-js grammar of the IR text format (normative description: specs/ir-text.md).
// Capitalised rules are syntactic: whitespace and `//` comments may appear between
// their tokens. Lower-case rules are lexical: no whitespace inside a name or number.
// Character classes are spelled out inline because every rule application costs a
// memo entry per input position, and names are most of the text.
import * as ohm from 'ohm-js';

export const IR_GRAMMAR_SOURCE = String.raw`
SsmcIR {
  Graph = kw<"graph"> globalName AttrBlock? "{" Input* Weight* Stmt* Return "}"
  Input = kw<"input"> localName ":" Type
  Weight = kw<"weight"> globalName ":" Type
  Return = kw<"return"> ListOf<Operand, ",">

  Stmt = Results? opKind "(" ListOf<Operand, ","> ")" AttrBlock? OutTypes? Body?
  Results = NonemptyListOf<localName, ","> "="
  OutTypes = ":" NonemptyListOf<Type, ",">
  Body = "{" Param* Stmt* Yield "}"
  Param = kw<"param"> localName ":" Type
  Yield = kw<"yield"> ListOf<Operand, ",">
  Operand (an operand such as %x or @w) = globalName | localName

  AttrBlock = "{" ListOf<AttrEntry, ","> "}"
  AttrEntry = attrKey "=" AttrValue
  AttrValue = AttrList | number | string | bool
  AttrList = "[" ListOf<AttrValue, ","> "]"

  Type = dtype Shape Annotations?
  Shape = "[" ListOf<int, ","> "]"
  Annotations = "<" NonemptyListOf<Annotation, ";"> ">"
  Annotation = kw<"memory"> "=" memoryKind                   -- memory
             | kw<"cn4"> "=" "[" ListOf<Cn4Run, ","> "]"     -- cn4
             | kw<"perm"> "=" "[" ListOf<PermRun, ","> "]"   -- perm
  Cn4Run = int "x" int   -- run
         | int           -- one
  PermRun = int ".." int -- range
          | int          -- one

  kw<word> = word ~nameChar
  globalName (a weight name such as @w) = "@" name
  localName (a value name such as %x) = "%" name
  name = ("a".."z" | "A".."Z" | "0".."9" | "_") ("a".."z" | "A".."Z" | "0".."9" | "_" | ".")*
  nameChar = "a".."z" | "A".."Z" | "0".."9" | "_" | "."
  opKind (an op kind such as nn.linear) = opWord ("." opWord)+
  opWord = "a".."z" ("a".."z" | "0".."9" | "_")*
  attrKey (an attribute name) = ident | string
  ident = ("a".."z" | "A".."Z" | "_") ("a".."z" | "A".."Z" | "0".."9" | "_")*
  dtype (a dtype: f32, f16, bf16 or i32) = ("f32" | "f16" | "bf16" | "i32") ~nameChar
  memoryKind (buffer or image2d) = ("buffer" | "image2d") ~nameChar
  int (an integer) = digit+
  number (a number) = "nan" ~nameChar                                          -- nan
                    | "-"? "inf" ~nameChar                                     -- inf
                    | "-"? digit+ ("." digit+)? (("e" | "E") ("+" | "-")? digit+)? -- finite
  bool = ("true" | "false") ~nameChar
  string (a string) = "\"" strChar* "\""
  strChar = ~("\"" | "\\" | "\x00".."\x1f") any  -- plain
          | "\\" escape                          -- escaped
  escape = "u" hexDigit hexDigit hexDigit hexDigit -- unicode
         | "\"" | "\\" | "/" | "b" | "f" | "n" | "r" | "t"

  space += comment
  comment = "//" (~"\n" any)*
}
`;

export const irGrammar: ohm.Grammar = ohm.grammar(IR_GRAMMAR_SOURCE);
