package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/troupehq/troupe"
)

// checkVersion validates a version and fills in its defaults. SOURCE_FOLDER
// versions (a folder on the server's disk) may only be set by the admin.
func checkVersion(v *troupe.Version, c caller) error {
	if !validVersionNumber(v.VersionNumber) {
		return troupe.Errorf(troupe.ErrInvalidValue, "Version number %q is not valid: use MAJOR.MINOR, e.g. 0.0.", v.VersionNumber)
	}
	if v.SourceType == "" {
		v.SourceType = troupe.SourceFiles
	}
	switch v.SourceType {
	case troupe.SourceFiles:
		for i := range v.SourceFiles {
			f := &v.SourceFiles[i]
			clean := path.Clean(f.Name)
			if f.Name == "" || strings.HasPrefix(f.Name, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
				return troupe.Errorf(troupe.ErrInvalidValue, "Source file name %q is not a relative path inside the project.", f.Name)
			}
			if f.Folder {
				continue
			}
			switch strings.ToUpper(f.Format) {
			case "", "TEXT":
				f.Format = "TEXT"
			case "BASE64":
				f.Format = "BASE64"
				if _, err := base64.StdEncoding.DecodeString(f.Content); err != nil {
					return troupe.Errorf(troupe.ErrInvalidValue, "Source file %q is not valid base64.", f.Name)
				}
			default:
				return troupe.Errorf(troupe.ErrInvalidValue, "Source file %q has format %q; use TEXT or BASE64.", f.Name, f.Format)
			}
		}
	case troupe.SourceFolder:
		if !c.admin {
			return troupe.Errorf(troupe.ErrInvalidValue, "Only the admin token may create SOURCE_FOLDER versions.")
		}
		if !strings.HasPrefix(v.SourceDir, "/") {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field sourceDir must be an absolute path on the server.")
		}
	default:
		return troupe.Errorf(troupe.ErrInvalidValue, "Source type %q is not supported; use SOURCE_FILES.", v.SourceType)
	}
	if v.BuildTag == "" {
		v.BuildTag = "latest"
	}
	if v.EnvVars == nil {
		v.EnvVars = []troupe.EnvVar{}
	}
	for _, e := range v.EnvVars {
		if e.Name == "" || strings.ContainsAny(e.Name, "=\x00") {
			return troupe.Errorf(troupe.ErrInvalidValue, "Environment variable name %q is not valid.", e.Name)
		}
	}
	return nil
}

// validVersionNumber reports whether s is MAJOR.MINOR with parts 0-99.
func validVersionNumber(s string) bool {
	major, minor, ok := strings.Cut(s, ".")
	return ok && validVersionPart(major) && validVersionPart(minor)
}

func validVersionPart(p string) bool {
	if p == "" || len(p) > 2 || (len(p) == 2 && p[0] == '0') {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// versionView hides the values of secret environment variables.
func versionView(v troupe.Version) troupe.Version {
	env := make([]troupe.EnvVar, len(v.EnvVars))
	for i, e := range v.EnvVars {
		if e.IsSecret {
			e.Value = ""
		}
		env[i] = e
	}
	v.EnvVars = env
	return v
}

func findVersion(a *troupe.Actor, number string) int {
	for i, v := range a.Versions {
		if v.VersionNumber == number {
			return i
		}
	}
	return -1
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	items := make([]troupe.Version, len(a.Versions))
	for i, v := range a.Versions {
		items[i] = versionView(v)
	}
	writeData(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
	return nil
}

func (s *Server) createVersion(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	var v troupe.Version
	if err := decodeJSON(r, &v); err != nil {
		return err
	}
	if v.VersionNumber == "" {
		return troupe.Errorf(troupe.ErrParameterRequired, "Field 'versionNumber' is required.")
	}
	if err := checkVersion(&v, callerFrom(r.Context())); err != nil {
		return err
	}
	now := s.now()
	_, err = s.store.UpdateActor(r.Context(), a.ID, func(x *troupe.Actor) error {
		if findVersion(x, v.VersionNumber) >= 0 {
			return troupe.Errorf(troupe.ErrVersionExists, "Version %s already exists.", v.VersionNumber)
		}
		x.Versions = append(x.Versions, v)
		x.ModifiedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", absURL(r, "/v2/actors/"+a.ID+"/versions/"+v.VersionNumber))
	writeData(w, http.StatusCreated, versionView(v))
	return nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	n := r.PathValue("versionNumber")
	i := findVersion(a, n)
	if i < 0 {
		return notFound("Version", n)
	}
	writeData(w, http.StatusOK, versionView(a.Versions[i]))
	return nil
}

// updateVersion changes the fields the body gives; a version that does not
// exist yet is created.
func (s *Server) updateVersion(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	n := r.PathValue("versionNumber")
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return err
	}
	c := callerFrom(r.Context())
	var out troupe.Version
	now := s.now()
	_, err = s.store.UpdateActor(r.Context(), a.ID, func(x *troupe.Actor) error {
		i := findVersion(x, n)
		v := troupe.Version{VersionNumber: n}
		if i >= 0 {
			v = x.Versions[i]
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &v); err != nil {
				return troupe.Errorf(troupe.ErrInvalidInput, "The request body is not a valid version: %v.", err)
			}
		}
		v.VersionNumber = n
		if err := checkVersion(&v, c); err != nil {
			return err
		}
		if i >= 0 {
			x.Versions[i] = v
		} else {
			x.Versions = append(x.Versions, v)
		}
		x.ModifiedAt = now
		out = v
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, versionView(out))
	return nil
}

func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	n := r.PathValue("versionNumber")
	now := s.now()
	_, err = s.store.UpdateActor(r.Context(), a.ID, func(x *troupe.Actor) error {
		i := findVersion(x, n)
		if i < 0 {
			return notFound("Version", n)
		}
		x.Versions = append(x.Versions[:i], x.Versions[i+1:]...)
		x.ModifiedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
