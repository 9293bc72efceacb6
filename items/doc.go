// Package items reshapes and writes dataset items, the engine behind
// GET /v2/datasets/{id}/items. The store hands out items as pushed
// (compacted JSON objects); [Options] reshape each one, in this order:
//
//  0. skipFailed: an item with an errorInfo field is dropped;
//  1. unwind: for each field listed, in order, an array field makes one item
//     per element (an object element is merged into the item in place of the
//     field, its keys winning; any other element becomes the field's value;
//     an empty array makes no item), an object field is merged the same way,
//     anything else leaves the item as it is; one stored item may become at
//     most MaxUnwound items (invalid-parameter beyond);
//  2. flatten: each object field listed becomes "field.sub" fields (nested
//     objects all the way down; arrays stay values);
//  3. fields: only the listed fields are kept, in the listed order;
//  4. omit: the listed fields are dropped;
//  5. skipHidden: top-level fields whose name starts with "#" are dropped;
//  6. skipEmpty: items left with no field are dropped (clean = skipHidden +
//     skipEmpty, the items a dataset's cleanItemCount counts).
//
// The caller selects the stored items (offset, limit); one stored item may
// become none or several written ones.
//
// Formats: json (an array), jsonl (one object per line), csv and html (a
// table whose columns are the union of the items' keys in first-seen order,
// nested objects and arrays flattened into "a/b" and "a/0" columns, null as
// an empty cell), xml (each item an <item> element in <items>, fields as
// child elements, arrays as repeated elements, "@" objects as attributes
// and "#" as text, names that are not XML names made safe with "_").
package items
