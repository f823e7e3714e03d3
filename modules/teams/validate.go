package teams

import (
	"errors"

	"usersvc/platform/apperr"
	"usersvc/platform/entity"
)

func checkInput(in *Input) error {
	return errors.Join(entity.CheckName("name", &in.Name), entity.CheckLength("description", &in.Description, 500))
}

func checkPatch(p *Patch) error {
	return errors.Join(entity.CheckAny("name or description", p.Name, p.Description),
		entity.CheckName("name", p.Name), entity.CheckLength("description", p.Description, 500))
}

func checkRole(role string) error {
	if role != "" && role != "member" && role != "maintainer" {
		return apperr.Invalid(`role must be "member" or "maintainer", got %q`, role)
	}
	return nil
}
